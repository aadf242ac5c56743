import { useMemo } from 'preact/hooks';
import { GridCell, VirtualList } from '../components/virtual-list.js';
import { formatMs, formatPercent, plural, serviceColor, textOnServiceColor } from '../format.js';
import type { TimeWindow, TreeRow } from '../trace-tree.js';
import type { CriticalPath } from '../types.js';

// The span waterfall with the critical path drawn over it: a thin dark bar over each stretch of
// a span that lies on the path (as Jaeger's CriticalPath overlay). Subtrees fold; the timeline
// shows the zoomed window of the trace; spans a search in the trace found are marked.

const ROW_HEIGHT = 26;
const MAX_HEIGHT = 520;
const INDENT = 14;

export interface WaterfallProps {
  /** The rows shown: the trace's spans depth-first, folded subtrees left out. */
  rows: TreeRow[];
  startUs: number;
  totalMs: number;
  /** The zoomed time window (ms from the trace's start); null for the whole trace. */
  window: TimeWindow | null;
  criticalPath: CriticalPath | null;
  selectedSpan: string | null;
  onSelectSpan: (spanId: string) => void;
  collapsed: ReadonlySet<string>;
  onToggle: (spanId: string, collapse: boolean) => void;
  /** Spans a search in the trace found, and the one it is on. */
  matches: ReadonlySet<string>;
  activeMatch: string | null;
}

export function Waterfall(props: WaterfallProps) {
  const { criticalPath, startUs, rows, collapsed, matches } = props;
  const totalMs = Math.max(props.totalMs, 0.001);
  const fromMs = props.window?.fromMs ?? 0;
  const toMs = props.window?.toMs ?? totalMs;
  const spanMs = Math.max(toMs - fromMs, 0.001);
  const sectionsBySpan = useMemo(() => {
    const map = new Map<string, Array<{ startMs: number; durationMs: number }>>();
    for (const section of criticalPath?.sections ?? []) {
      const list = map.get(section.spanId);
      if (list) list.push(section);
      else map.set(section.spanId, [section]);
    }
    return map;
  }, [criticalPath]);
  // Sections are placed on the analysis' skew-corrected time line; each is drawn at the same
  // offset into its span's bar as there, so it lines up with the bar drawn from the span's own
  // timestamps.
  const segmentStart = useMemo(
    () => new Map((criticalPath?.segments ?? []).map((s) => [s.spanId, s.startMs])),
    [criticalPath],
  );
  const selected = rows.findIndex((r) => r.span.span_id === props.selectedSpan);
  /** Left and width (percent of the timeline) of [start, start + duration], cut to the window. */
  const place = (startMs: number, durationMs: number) => {
    const left = ((startMs - fromMs) / spanMs) * 100;
    const right = ((startMs + durationMs - fromMs) / spanMs) * 100;
    if (right < 0 || left > 100) return null;
    const a = Math.max(0, left);
    const b = Math.min(100, right);
    return { left: `${a}%`, width: `${Math.max(b - a, 0)}%`, end: right };
  };
  const toggle = (index: number, collapse: boolean) => {
    const row = rows[index];
    if (!row || row.descendants === 0 || collapsed.has(row.span.span_id) === collapse) return false;
    props.onToggle(row.span.span_id, collapse);
    return true;
  };

  return (
    <VirtualList
      label="Spans (left and right arrows fold and unfold a span's subtree)"
      testId="waterfall"
      count={rows.length}
      rowHeight={ROW_HEIGHT}
      height={Math.min(rows.length * ROW_HEIGHT, MAX_HEIGHT)}
      selected={selected >= 0 ? selected : null}
      onSelect={(i) => props.onSelectSpan(rows[i]!.span.span_id)}
      onActivate={(i) => props.onSelectSpan(rows[i]!.span.span_id)}
      onRowKey={(key, i) =>
        key === 'ArrowLeft' ? toggle(i, true) : key === 'ArrowRight' ? toggle(i, false) : false
      }
      header={
        <div class="vrow head span-row">
          <span>Span</span>
          <span class="timeline-scale" data-testid="waterfall-scale">
            <span>{formatMs(fromMs)}</span>
            <span>{formatMs(fromMs + spanMs / 2)}</span>
            <span>{formatMs(toMs)}</span>
          </span>
        </div>
      }
      renderRow={(i) => {
        const { span, depth, descendants } = rows[i]!;
        const offsetMs = (span.start_us - startUs) / 1000;
        const critical = sectionsBySpan.get(span.span_id) ?? [];
        const folded = collapsed.has(span.span_id);
        // Thin spans stay visible at any zoom: a bar is at least 1/500 of the window wide.
        const bar = place(offsetMs, Math.max(span.duration_ms, spanMs / 500));
        const name = `${span.service} ${span.name}`;
        const isMatch = matches.has(span.span_id);
        return (
          <div
            class={`span-row${isMatch ? ' match' : ''}${props.activeMatch === span.span_id ? ' active-match' : ''}`}
            data-span-id={span.span_id}
            data-service={span.service}
            data-depth={depth}
            data-critical={critical.length > 0 ? 'true' : undefined}
            data-match={isMatch ? 'true' : undefined}
          >
            <GridCell class="span-name" style={{ paddingLeft: `${depth * INDENT}px` }}>
              {descendants > 0 ? (
                <button
                  type="button"
                  class="fold"
                  data-testid="fold"
                  // The grid holds the focus (arrow keys fold); the button is for the pointer.
                  tabIndex={-1}
                  aria-expanded={!folded}
                  aria-label={`${folded ? 'Unfold' : 'Fold'} the ${plural(descendants, 'span')} below ${span.name}`}
                  onClick={(event) => {
                    event.stopPropagation();
                    props.onToggle(span.span_id, !folded);
                  }}
                >
                  {folded ? '▸' : '▾'}
                </button>
              ) : (
                <span class="fold-space" />
              )}
              <span class="swatch" style={{ background: serviceColor(span.service) }} />
              <span class="span-label" title={name}>
                <b>{span.service}</b> {span.name}
              </span>
              {folded && <span class="badge folded">+{descendants}</span>}
              {span.failed && <span class="badge error">error</span>}
              {span.parent_missing && <span class="badge warn">parent missing</span>}
              {/* The full name where it is cut: on hover and when the row has the focus. */}
              <span class="name-tip" aria-hidden="true">
                {name}
              </span>
            </GridCell>
            <GridCell class="timeline">
              {bar && (
                <span
                  class={span.failed ? 'bar failed' : 'bar'}
                  style={{
                    left: bar.left,
                    width: bar.width,
                    background: serviceColor(span.service),
                  }}
                />
              )}
              {critical.map((section) => {
                const shift = offsetMs - (segmentStart.get(span.span_id) ?? offsetMs);
                const at = place(section.startMs + shift, section.durationMs);
                return at ? (
                  <span
                    key={section.startMs}
                    class="critical"
                    title="on the critical path"
                    style={{ left: at.left, width: at.width }}
                  />
                ) : null;
              })}
              {bar && (
                <span
                  class="bar-label"
                  data-testid="bar-label"
                  style={{
                    // After the bar's end, but never past the timeline's right edge: near it the
                    // label stands over the bar's end on its own background.
                    left: `clamp(0px, calc(${Math.max(0, Math.min(100, bar.end))}% + 4px), calc(100% - 5em))`,
                  }}
                >
                  {formatMs(span.duration_ms)}
                </span>
              )}
            </GridCell>
          </div>
        );
      }}
    />
  );
}

/** The critical path's verdict: total, the biggest contributor, time per service. */
export function CriticalPathSummary({ path }: { path: CriticalPath | null }) {
  if (path === null) {
    return <p class="muted">The critical path appears once the trace is analysed.</p>;
  }
  const biggest = path.services.find((s) => s.service === path.biggestContributor);
  return (
    <div class="critical-summary" data-testid="critical-path">
      <p>
        Critical path {formatMs(path.totalMs)}
        {biggest && (
          <>
            {' · '}
            <strong data-testid="biggest-contributor" data-service={biggest.service}>
              {biggest.service} ({formatMs(biggest.ms)}) is the biggest contributor
            </strong>
            {` (${biggest.percent} % of the path)`}
          </>
        )}
        {path.skewAdjusted ? ' · adjusted for clock skew' : ''}
      </p>
      <div class="stack" aria-hidden="true">
        {path.services.map((s) => (
          <span
            key={s.service}
            class="stack-part"
            style={{
              width: `${s.percent}%`,
              background: serviceColor(s.service),
              color: textOnServiceColor(s.service),
            }}
          >
            {s.percent >= 8 ? s.service : ''}
          </span>
        ))}
      </div>
      {/* Every part named, the narrow ones too: a legend under the bar, in the bar's order. */}
      <ul
        class="stack-legend"
        data-testid="critical-legend"
        aria-label="Time on the critical path per service"
      >
        {path.services.map((s) => (
          <li key={s.service} data-service={s.service}>
            <span class="swatch" style={{ background: serviceColor(s.service) }} />
            {s.service} {formatMs(s.ms)}{' '}
            <span class="muted">({formatPercent(s.percent / 100)})</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
