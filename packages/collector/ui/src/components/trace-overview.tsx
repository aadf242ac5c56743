import { useMemo, useRef, useState } from 'preact/hooks';
import { formatMs, serviceColor } from '../format.js';
import type { TimeWindow } from '../trace-tree.js';
import type { Span } from '../types.js';

// The whole trace in one strip: every span as a thin line at its time. Dragging across it picks
// the time window the waterfall and the space-time view both zoom to; the keyboard moves (arrow
// keys), narrows and widens (+ and -) the window, and 0 shows the whole trace again.

const HEIGHT = 44;
/** Past this many spans, the strip draws a sample: it is an overview, not a list. */
const MAX_LINES = 3000;

export interface TraceOverviewProps {
  rows: Array<{ span: Span }>;
  startUs: number;
  totalMs: number;
  window: TimeWindow | null;
  onZoom: (window: TimeWindow | null) => void;
}

export function TraceOverview({ rows, startUs, totalMs, window, onZoom }: TraceOverviewProps) {
  const strip = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<{ from: number; to: number } | null>(null);
  const lines = useMemo(() => {
    const step = Math.max(1, Math.ceil(rows.length / MAX_LINES));
    const out: Array<{ x: number; w: number; y: number; color: string; key: string }> = [];
    for (let i = 0; i < rows.length; i += step) {
      const { span } = rows[i]!;
      out.push({
        key: span.span_id,
        x: ((span.start_us - startUs) / 1000 / totalMs) * 100,
        w: Math.max(0.15, (span.duration_ms / totalMs) * 100),
        y: 2 + (i / Math.max(1, rows.length - 1)) * (HEIGHT - 6),
        color: serviceColor(span.service),
      });
    }
    return out;
  }, [rows, startUs, totalMs]);

  /** The pointer's position as a fraction of the strip's width, 0..1. */
  const at = (event: PointerEvent) => {
    const box = strip.current!.getBoundingClientRect();
    return Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
  };
  const onPointerDown = (event: PointerEvent) => {
    if (event.button !== 0) return;
    (event.currentTarget as HTMLElement).setPointerCapture?.(event.pointerId);
    const x = at(event);
    setDrag({ from: x, to: x });
  };
  const onPointerMove = (event: PointerEvent) => {
    if (drag) setDrag({ from: drag.from, to: at(event) });
  };
  const onPointerUp = (event: PointerEvent) => {
    if (!drag) return;
    const to = at(event);
    setDrag(null);
    const [a, b] = drag.from < to ? [drag.from, to] : [to, drag.from];
    // A click (no drag) is not a zoom.
    if (b - a < 0.005) return;
    onZoom({ fromMs: a * totalMs, toMs: b * totalMs });
  };
  const onKeyDown = (event: KeyboardEvent) => {
    const from = window?.fromMs ?? 0;
    const to = window?.toMs ?? totalMs;
    const width = to - from;
    const moves: Record<string, () => TimeWindow | null> = {
      ArrowLeft: () => ({ fromMs: from - width / 4, toMs: to - width / 4 }),
      ArrowRight: () => ({ fromMs: from + width / 4, toMs: to + width / 4 }),
      '+': () => ({ fromMs: from + width / 4, toMs: to - width / 4 }),
      '=': () => ({ fromMs: from + width / 4, toMs: to - width / 4 }),
      '-': () => ({ fromMs: from - width / 2, toMs: to + width / 2 }),
      '0': () => null,
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const next = move();
    if (next === null) return onZoom(null);
    // Moving keeps the width: shift back inside the trace rather than shrink at an edge.
    const shift = next.fromMs < 0 ? -next.fromMs : next.toMs > totalMs ? totalMs - next.toMs : 0;
    onZoom({ fromMs: next.fromMs + shift, toMs: next.toMs + shift });
  };

  const pct = (ms: number) => `${(ms / totalMs) * 100}%`;
  const shown = drag
    ? {
        left: `${Math.min(drag.from, drag.to) * 100}%`,
        width: `${Math.abs(drag.to - drag.from) * 100}%`,
      }
    : window
      ? { left: pct(window.fromMs), width: pct(window.toMs - window.fromMs) }
      : null;

  return (
    <div class="overview" data-testid="trace-overview">
      <div class="overview-bar">
        <span class="muted">
          {window
            ? `Showing ${formatMs(window.fromMs)} – ${formatMs(window.toMs)} of ${formatMs(totalMs)}`
            : 'Drag across the overview to zoom both timelines'}
        </span>
        {window && (
          <button type="button" class="link" data-testid="zoom-reset" onClick={() => onZoom(null)}>
            Show the whole trace
          </button>
        )}
      </div>
      <div
        ref={strip}
        class="overview-strip"
        data-testid="overview-strip"
        // A slider for the window's place in the trace; its keys also narrow and widen it.
        role="slider"
        tabIndex={0}
        aria-label="Trace overview: drag to zoom; arrow keys move, + and - zoom, 0 shows the whole trace"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(
          window ? ((window.fromMs + window.toMs) / 2 / totalMs) * 100 : 50,
        )}
        aria-valuetext={
          window
            ? `${formatMs(window.fromMs)} to ${formatMs(window.toMs)} of ${formatMs(totalMs)}`
            : `the whole trace, ${formatMs(totalMs)}`
        }
        style={{ height: `${HEIGHT}px` }}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onKeyDown={onKeyDown}
      >
        {lines.map((line) => (
          <span
            key={line.key}
            class="overview-line"
            style={{
              left: `${line.x}%`,
              width: `${line.w}%`,
              top: `${line.y}px`,
              background: line.color,
            }}
          />
        ))}
        {shown && (
          <span
            class={drag ? 'overview-window dragging' : 'overview-window'}
            data-testid="overview-window"
            style={shown}
          />
        )}
      </div>
    </div>
  );
}
