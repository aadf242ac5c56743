import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

// A list that renders only the rows in view (fixed row height), so a trace of 10,000 spans or
// events stays as fast as one of ten. A library (react-window, TanStack Virtual) would bring a
// compat layer or an adapter for a job of forty lines with fixed heights.

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  /** Height of the visible area in pixels. */
  height: number;
  renderRow: (index: number) => ComponentChildren;
  /** Keyboard selection: arrows, Page Up/Down, Home/End move it; Enter activates. */
  selected?: number | null;
  onSelect?: (index: number) => void;
  onActivate?: (index: number) => void;
  /** Other keys on the selected row (e.g. a tree's left and right); true when handled. */
  onRowKey?: (key: string, index: number) => boolean;
  label: string;
  testId?: string;
  header?: ComponentChildren;
}

const OVERSCAN = 8;

/**
 * One cell of a row: a grid's rows hold cells (what a screen reader reads column by column).
 * The grid holds the focus and moves the selection by row, so a cell is not focusable itself.
 */
export function GridCell(props: JSX.IntrinsicElements['span']) {
  // biome-ignore lint/a11y/useSemanticElements lint/a11y/useFocusableInteractive: a windowed row of absolutely placed cells cannot be a <td>; the grid holds the focus (a roving selection)
  return <span role="gridcell" {...props} />;
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, height, selected, onSelect, onActivate } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const viewHeight = Math.min(height, Math.max(count * rowHeight, rowHeight * 2));

  // Keep the selected row in view when the keyboard moves it.
  useEffect(() => {
    const element = ref.current;
    if (!element || selected === null || selected === undefined) return;
    const top = selected * rowHeight;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + rowHeight > element.scrollTop + viewHeight) {
      element.scrollTop = top + rowHeight - viewHeight;
    }
  }, [selected, rowHeight, viewHeight]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + viewHeight) / rowHeight) + OVERSCAN);
  const rows = [];
  for (let i = first; i < last; i += 1) {
    rows.push(
      // biome-ignore lint/a11y/useSemanticElements lint/a11y/useFocusableInteractive lint/a11y/useKeyWithClickEvents: the grid holds the focus and handles the keys for its rows (a roving selection); a <tr> cannot be positioned for windowing
      <div
        key={i}
        role="row"
        aria-selected={i === selected}
        class={i === selected ? 'vrow selected' : 'vrow'}
        style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}
        onClick={() => onSelect?.(i)}
        onDblClick={() => onActivate?.(i)}
      >
        {props.renderRow(i)}
      </div>,
    );
  }

  const onKeyDown = (event: KeyboardEvent) => {
    if (count === 0 || !onSelect) return;
    const page = Math.max(1, Math.floor(viewHeight / rowHeight) - 1);
    const at = selected ?? -1;
    const moves: Record<string, number> = {
      ArrowDown: at + 1,
      ArrowUp: at - 1,
      PageDown: at + page,
      PageUp: at - page,
      Home: 0,
      End: count - 1,
      j: at + 1,
      k: at - 1,
    };
    const next = moves[event.key];
    if (next !== undefined) {
      event.preventDefault();
      onSelect(Math.max(0, Math.min(count - 1, next)));
    } else if (event.key === 'Enter' && selected !== null && selected !== undefined) {
      event.preventDefault();
      onActivate?.(selected);
    } else if (
      selected !== null &&
      selected !== undefined &&
      props.onRowKey?.(event.key, selected)
    ) {
      event.preventDefault();
    }
  };

  return (
    <div class="vlist-frame">
      {props.header}
      {/* biome-ignore lint/a11y/useSemanticElements: a windowed list of absolutely placed rows cannot be a <table> */}
      <div
        ref={ref}
        class="vlist"
        role="grid"
        aria-label={props.label}
        aria-rowcount={count}
        data-testid={props.testId}
        tabIndex={0}
        style={{ height: `${viewHeight}px` }}
        onScroll={(event) => setScrollTop((event.currentTarget as HTMLDivElement).scrollTop)}
        onKeyDown={onKeyDown}
      >
        <div class="vlist-body" style={{ height: `${count * rowHeight}px` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
