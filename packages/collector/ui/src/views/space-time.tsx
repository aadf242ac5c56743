import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatClock, formatTime, serviceColor } from '../format.js';
import { EVENT_KEYS, stepEvent } from '../space-time-keys.js';
import type { PlacedEvent, SpaceTime } from '../space-time-model.js';
import type { TimeWindow } from '../trace-tree.js';

// The space-time diagram: execution contexts as columns (grouped by service), events in
// happens-before order downwards, arrows for calls, responses, fork and join. Only the rows in
// view are drawn, so a trace of 10,000 events scrolls as one of ten. Zoomed to a time window,
// it draws the events of the window only, their rows closed up; a service's contexts fold
// into one column on demand. The diagram is one Tab stop whose arrow keys move among its
// events (a roving tabindex, space-time-keys.ts): the event last focused, else the one the
// page names, else the first.

const COL_W = 132;
const GROUP_GAP = 20;
const ROW_H = 30;
const TOP = 12;
const LEFT = 70;
const VIEW_H = 520;
const OVERSCAN_ROWS = 10;
const HEADER_H = 44;

const KIND_SHORT: Record<string, string> = {
  request_received: 'recv',
  response_sent: 'resp',
  request_sent: 'call',
  response_received: 'reply',
  state_read: 'read',
  state_write: 'write',
  lock_acquire: 'lock',
  lock_release: 'unlock',
  error: 'error',
  fork: 'fork',
  join: 'join',
  custom: 'custom',
};

export interface SpaceTimeProps {
  model: SpaceTime;
  /** Event ids racing (marked) and selected (outlined). */
  racing: Set<string>;
  selected: Set<string>;
  focused: string | null;
  onSelect: (eventId: string) => void;
  /** The zoomed time window (ms from `startUs`); null for the whole trace. */
  window: TimeWindow | null;
  startUs: number;
  /** Folds (true) or unfolds a service's contexts. */
  onFoldService: (service: string, fold: boolean) => void;
}

/** The rows of the events inside `window`, closed up: row -> drawn row; null when not zoomed. */
function windowRows(model: SpaceTime, window: TimeWindow | null, startUs: number) {
  if (window === null) return null;
  const from = startUs + window.fromMs * 1000;
  const to = startUs + window.toMs * 1000;
  const kept = new Set<number>();
  for (const e of model.events) if (e.event.ts_us >= from && e.event.ts_us <= to) kept.add(e.row);
  const map = new Map<number, number>();
  for (const [i, row] of [...kept].sort((a, b) => a - b).entries()) map.set(row, i);
  return map;
}

export function SpaceTimeView(props: SpaceTimeProps) {
  const { racing, selected, focused, onSelect } = props;
  const full = props.model;
  // The model zoomed: the window's events on closed-up rows, the arrows between them.
  const model = useMemo<SpaceTime>(() => {
    const rows = windowRows(full, props.window, props.startUs);
    if (rows === null) return full;
    const from = props.startUs + props.window!.fromMs * 1000;
    const to = props.startUs + props.window!.toMs * 1000;
    const index = new Map<number, number>();
    const events: PlacedEvent[] = [];
    full.events.forEach((e, i) => {
      const row = rows.get(e.row);
      if (row === undefined || e.event.ts_us < from || e.event.ts_us > to) return;
      index.set(i, events.length);
      events.push({ ...e, row });
    });
    const arrows = full.arrows
      .filter((a) => index.has(a.from) && index.has(a.to))
      .map((a) => ({ ...a, from: index.get(a.from)!, to: index.get(a.to)! }));
    const byId = new Map(events.map((e, i) => [e.event.id, i]));
    return { ...full, events, arrows, rows: rows.size, byId };
  }, [full, props.window, props.startUs]);
  // The event under the pointer or with the focus: its clock shows at once beside it.
  const [tip, setTip] = useState<string | null>(null);
  const [scrollTop, setScrollTop] = useState(() => {
    // Open scrolled to the first selected event.
    const index = [...selected].map((id) => model.byId.get(id)).find((i) => i !== undefined);
    return index === undefined ? 0 : Math.max(0, model.events[index]!.row * ROW_H - 120);
  });
  const container = useRef<HTMLDivElement>(null);
  // The event that takes the Tab stop: the one last focused while the diagram (zoomed or
  // not) holds it, else the page's focused or a selected one, else the first.
  const [lastFocused, setLastFocused] = useState<string | null>(null);
  const tabStop =
    [lastFocused, focused, ...selected].find((id) => id !== null && model.byId.has(id)) ??
    model.events[0]?.event.id ??
    null;
  // An arrow key's destination, focused once it is drawn (before the frame is painted).
  const moveTo = useRef<string | null>(null);
  useLayoutEffect(() => {
    if (moveTo.current === null) return;
    container.current?.querySelector<SVGGElement>(`[data-event-id="${moveTo.current}"]`)?.focus();
    moveTo.current = null;
  });
  useEffect(() => {
    if (container.current) container.current.scrollTop = scrollTop;
  }, []);
  // A newly selected event (a race's access opened from a link) is brought into view: the
  // diagram scrolls to its row and column, and the page to the diagram.
  const target = useMemo(
    () => [...selected].find((id) => model.byId.has(id)) ?? null,
    [selected, model],
  );
  useEffect(() => {
    if (target === null || !container.current) return;
    const top = Math.max(0, model.events[model.byId.get(target)!]!.row * ROW_H - 120);
    container.current.scrollTop = top;
    setScrollTop(top);
    const frame = requestAnimationFrame(() =>
      container.current
        ?.querySelector(`[data-event-id="${target}"]`)
        ?.scrollIntoView({ block: 'center', inline: 'center' }),
    );
    return () => cancelAnimationFrame(frame);
  }, [target, model]);
  const columnX = useMemo(() => {
    const xs: number[] = [];
    model.groups.forEach((group, g) => {
      group.components.forEach((_, c) => {
        xs[group.firstColumn + c] = LEFT + (group.firstColumn + c) * COL_W + g * GROUP_GAP;
      });
    });
    return xs;
  }, [model]);
  // A new zoom starts at the top of its window, scrolled sideways to where its first events
  // are (in a long trace they are seldom in the first columns).
  useEffect(() => {
    if (!container.current || props.window === null) return;
    container.current.scrollTop = 0;
    setScrollTop(0);
    const first = model.events
      .filter((e) => e.row < VIEW_H / ROW_H)
      .map((e) => e.column)
      .sort((a, b) => a - b);
    const column = first[Math.floor(first.length / 2)];
    if (column !== undefined) {
      container.current.scrollLeft = Math.max(
        0,
        columnX[column]! - container.current.clientWidth / 3,
      );
    }
  }, [props.window]);
  const extent = useMemo(() => {
    const first: number[] = [];
    const last: number[] = [];
    for (const e of model.events) {
      first[e.column] = Math.min(first[e.column] ?? e.row, e.row);
      last[e.column] = Math.max(last[e.column] ?? e.row, e.row);
    }
    return { first, last };
  }, [model]);

  const width = LEFT + model.columns * COL_W + model.groups.length * GROUP_GAP;
  const height = TOP * 2 + model.rows * ROW_H;
  const y = (row: number) => TOP + row * ROW_H + ROW_H / 2;
  const firstRow = Math.max(0, Math.floor(scrollTop / ROW_H) - OVERSCAN_ROWS);
  const lastRow = Math.ceil((scrollTop + VIEW_H) / ROW_H) + OVERSCAN_ROWS;
  const inView = (a: number, b: number) => Math.max(a, b) >= firstRow && Math.min(a, b) <= lastRow;

  // The Tab stop is drawn wherever it is, so the keyboard always finds the diagram.
  const events = model.events.filter(
    (e) => (e.row >= firstRow && e.row <= lastRow) || e.event.id === tabStop,
  );
  const arrows = model.arrows.filter((a) =>
    inView(model.events[a.from]!.row, model.events[a.to]!.row),
  );

  const tipEvent = tip === null ? undefined : model.events[model.byId.get(tip) ?? -1];

  return (
    <div
      class="space-time"
      data-testid="space-time"
      data-events={model.events.length}
      style={{ height: `${Math.min(VIEW_H, height + 60)}px` }}
      ref={container}
      onScroll={(event) => setScrollTop((event.currentTarget as HTMLDivElement).scrollTop)}
    >
      <div class="st-header" style={{ width: `${width}px` }}>
        {model.groups.map((group, g) => (
          <div
            key={group.service}
            class="st-group"
            style={{
              left: `${LEFT + group.firstColumn * COL_W + g * GROUP_GAP - COL_W / 2}px`,
              width: `${group.components.length * COL_W}px`,
              borderColor: serviceColor(group.service),
            }}
          >
            <b>
              {group.contexts > 1 && (
                <button
                  type="button"
                  class="fold"
                  data-testid="fold-service"
                  data-service={group.service}
                  aria-expanded={!group.folded}
                  aria-label={`${group.folded ? 'Unfold' : 'Fold'} the ${group.contexts} contexts of ${group.service}`}
                  onClick={() => props.onFoldService(group.service, !group.folded)}
                >
                  {group.folded ? '▸' : '▾'}
                </button>
              )}
              <span class="st-service" title={group.service}>
                {group.service}
              </span>
            </b>
            <span class="st-contexts">
              {group.components.map((c) => (
                <span key={c} title={c} style={{ width: `${COL_W}px` }}>
                  {c.includes('#') ? `#${c.split('#')[1]}` : c}
                </span>
              ))}
            </span>
          </div>
        ))}
      </div>
      <svg
        width={width}
        height={height}
        class="st-canvas"
        // A toolbar, not an image: its events are buttons, one Tab stop, moved among with the
        // arrow keys.
        role="toolbar"
        aria-label="Space-time diagram"
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
          </marker>
        </defs>
        {columnX.map((x, column) =>
          extent.first[column] === undefined ||
          !inView(extent.first[column]!, extent.last[column]!) ? null : (
            <line
              key={column}
              class="st-line"
              x1={x}
              x2={x}
              y1={y(Math.max(extent.first[column]!, firstRow))}
              y2={y(Math.min(extent.last[column]!, lastRow))}
            />
          ),
        )}
        {arrows.map((a) => {
          const from = model.events[a.from]!;
          const to = model.events[a.to]!;
          return (
            <line
              key={`${a.from}-${a.to}`}
              class={`st-arrow ${a.kind}`}
              data-kind={a.kind}
              x1={columnX[from.column]}
              y1={y(from.row)}
              x2={columnX[to.column]}
              y2={y(to.row)}
              marker-end="url(#arrow)"
            />
          );
        })}
        {events.map((placed) => {
          const { event } = placed;
          const isRacing = racing.has(event.id);
          const isSelected = selected.has(event.id) || focused === event.id;
          const x = columnX[placed.column]!;
          const resource = typeof event.data.resource === 'string' ? event.data.resource : '';
          const label = `${KIND_SHORT[event.kind] ?? event.kind}${resource ? ` ${resource}` : ''}`;
          return (
            // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
            <g
              key={event.id}
              class={`st-event ${event.kind}${isRacing ? ' racing' : ''}${isSelected ? ' selected' : ''}`}
              data-event-id={event.id}
              data-racing={isRacing ? 'true' : undefined}
              data-selected={isSelected ? 'true' : undefined}
              data-service={placed.service}
              role="button"
              // SVG attributes keep their case: `tabIndex` would be an unknown attribute.
              tabindex={event.id === tabStop ? 0 : -1}
              // The visible label first (what a speech user says), then what it is.
              aria-label={`${label}${isRacing ? ' racing' : ''}: ${event.kind} in ${placed.service}`}
              aria-pressed={isSelected}
              aria-describedby={tip === event.id ? 'st-tip' : undefined}
              onClick={() => onSelect(event.id)}
              onMouseEnter={() => setTip(event.id)}
              onMouseLeave={() => setTip((t) => (t === event.id ? null : t))}
              onFocus={() => {
                setTip(event.id);
                setLastFocused(event.id);
              }}
              onBlur={() => setTip((t) => (t === event.id ? null : t))}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  onSelect(event.id);
                  return;
                }
                const step = EVENT_KEYS[e.key];
                if (step === undefined) return;
                e.preventDefault();
                const next =
                  model.events[stepEvent(model, model.byId.get(event.id)!, step)]!.event.id;
                if (next === event.id) return;
                setLastFocused(next);
                moveTo.current = next;
              }}
            >
              {isSelected && <circle class="halo" cx={x} cy={y(placed.row)} r={11} />}
              <circle
                class="dot"
                cx={x}
                cy={y(placed.row)}
                r={isRacing ? 6.5 : 5}
                fill={serviceColor(placed.service)}
              />
              <text class="st-label" x={x + 10} y={y(placed.row) + 4}>
                {label}
                {isRacing ? ' ⚠' : ''}
              </text>
            </g>
          );
        })}
      </svg>
      {tipEvent && (
        <div
          id="st-tip"
          role="tooltip"
          class="st-tip"
          data-testid="clock-tip"
          style={{
            left: `${columnX[tipEvent.column]! + 14}px`,
            top: `${HEADER_H + y(tipEvent.row) + 10}px`,
          }}
        >
          <b>
            {tipEvent.event.kind}
            {typeof tipEvent.event.data.resource === 'string'
              ? ` ${tipEvent.event.data.resource}`
              : ''}
          </b>{' '}
          · {tipEvent.service} · {formatTime(tipEvent.event.ts_us)}
          <br />
          <span class="mono">clock {formatClock(tipEvent.event.clock)}</span>
        </div>
      )}
    </div>
  );
}
