import { useMemo } from 'preact/hooks';
import { GridCell, VirtualList } from '../components/virtual-list.js';
import { formatMs, serviceColor, textOnServiceColor } from '../format.js';
import { flattenSpans } from '../space-time-model.js';
import type { CriticalPath, Span } from '../types.js';

// The span waterfall with the critical path drawn over it: a thin dark bar over each stretch of
// a span that lies on the path (as Jaeger's CriticalPath overlay).

const ROW_HEIGHT = 26;

export interface WaterfallProps {
  spans: Span[];
  startUs: number;
  totalMs: number;
  criticalPath: CriticalPath | null;
  selectedSpan: string | null;
  onSelectSpan: (spanId: string) => void;
}

export function Waterfall(props: WaterfallProps) {
  const { criticalPath, startUs } = props;
  const rows = useMemo(() => flattenSpans(props.spans), [props.spans]);
  const totalMs = Math.max(props.totalMs, 0.001);
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
  const pct = (ms: number) => `${Math.max(0, Math.min(100, (ms / totalMs) * 100))}%`;

  return (
    <VirtualList
      label="Spans"
      testId="waterfall"
      count={rows.length}
      rowHeight={ROW_HEIGHT}
      height={Math.min(rows.length * ROW_HEIGHT, 420)}
      selected={selected >= 0 ? selected : null}
      onSelect={(i) => props.onSelectSpan(rows[i]!.span.span_id)}
      onActivate={(i) => props.onSelectSpan(rows[i]!.span.span_id)}
      header={
        <div class="vrow head span-row">
          <span>Span</span>
          <span class="timeline-scale">
            <span>0</span>
            <span>{formatMs(totalMs / 2)}</span>
            <span>{formatMs(totalMs)}</span>
          </span>
        </div>
      }
      renderRow={(i) => {
        const { span, depth } = rows[i]!;
        const offsetMs = (span.start_us - startUs) / 1000;
        const critical = sectionsBySpan.get(span.span_id) ?? [];
        return (
          <div
            class="span-row"
            data-span-id={span.span_id}
            data-service={span.service}
            data-critical={critical.length > 0 ? 'true' : undefined}
          >
            <GridCell
              class="span-name"
              title={`${span.service} ${span.name}`}
              style={{ paddingLeft: `${depth * 14}px` }}
            >
              <span class="swatch" style={{ background: serviceColor(span.service) }} />
              <b>{span.service}</b> {span.name}
              {span.failed && <span class="badge error">error</span>}
              {span.parent_missing && <span class="badge warn">parent missing</span>}
            </GridCell>
            <GridCell class="timeline">
              <span
                class={span.failed ? 'bar failed' : 'bar'}
                style={{
                  left: pct(offsetMs),
                  width: pct(Math.max(span.duration_ms, totalMs / 500)),
                  background: serviceColor(span.service),
                }}
              />
              {critical.map((section) => {
                const shift = offsetMs - (segmentStart.get(span.span_id) ?? offsetMs);
                return (
                  <span
                    key={section.startMs}
                    class="critical"
                    title="on the critical path"
                    style={{ left: pct(section.startMs + shift), width: pct(section.durationMs) }}
                  />
                );
              })}
              <span
                class="bar-label"
                style={
                  // Near the right edge the label goes before the bar's end, not past it.
                  offsetMs + span.duration_ms > totalMs * 0.85
                    ? { right: pct(totalMs - offsetMs - span.duration_ms), marginRight: '4px' }
                    : { left: pct(offsetMs + span.duration_ms), marginLeft: '4px' }
                }
              >
                {formatMs(span.duration_ms)}
              </span>
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
      <div class="stack" role="img" aria-label="Time on the critical path per service">
        {path.services.map((s) => (
          <span
            key={s.service}
            class="stack-part"
            title={`${s.service}: ${formatMs(s.ms)} (${s.percent} %)`}
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
    </div>
  );
}
