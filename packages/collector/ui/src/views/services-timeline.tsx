import { useApi } from '../api.js';
import { SelectFilter } from '../components/filter-fields.js';
import { Empty, ErrorState, Loading } from '../components/states.js';
import { formatMs, formatTime } from '../format.js';
import { href, type Location, navigate, queryObject } from '../router.js';
import type { Timeline } from '../types.js';
import './list.css';

// Services over time: for each service and each caller → callee edge, small charts of the
// request rate, the errors and the p50/p99 latency per bucket (GET /api/services/timeline,
// answered from the aggregates every collector keeps in storage).

const RANGES: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'last hour', ms: 3_600_000 },
  '6h': { label: 'last 6 hours', ms: 6 * 3_600_000 },
  '24h': { label: 'last 24 hours', ms: 24 * 3_600_000 },
  '7d': { label: 'last 7 days', ms: 7 * 24 * 3_600_000 },
};
const WIDTH = 200;
const HEIGHT = 36;

type Series = Timeline['services'][number];

/** A line over the buckets; gaps (null) break it. */
function linePath(values: Array<number | null>, max: number): string {
  const step = values.length > 1 ? WIDTH / (values.length - 1) : WIDTH;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (HEIGHT - 2 - (max > 0 ? v / max : 0) * (HEIGHT - 4)).toFixed(1);
    // A point with no neighbour still shows: a zero-length stroke with round caps is a dot.
    d += pen ? `L${x} ${y}` : `M${x} ${y}l0 0.01`;
    pen = true;
  });
  return d;
}

const peak = (values: Array<number | null>) =>
  values.reduce<number>((m, v) => (v !== null && v > m ? v : m), 0);

function rateText(perSecond: number): string {
  if (perSecond === 0) return '0/s';
  if (perSecond >= 10) return `${Math.round(perSecond)}/s`;
  if (perSecond >= 0.1) return `${perSecond.toFixed(1)}/s`;
  return `${(perSecond * 60).toFixed(1)}/min`;
}

function Spark({
  label,
  summary,
  lines,
}: {
  label: string;
  summary: string;
  lines: Array<{ values: Array<number | null>; className?: string }>;
}) {
  const max = Math.max(...lines.map((l) => peak(l.values)));
  return (
    <div>
      <div class="spark-label">
        <span>{label}</span>
        <span>{summary}</span>
      </div>
      <svg
        class="sparkline"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${summary}`}
      >
        {lines.map((line, i) => (
          <path key={i} class={line.className} d={linePath(line.values, max)} />
        ))}
      </svg>
    </div>
  );
}

function SeriesCard({
  title,
  series,
  stepS,
  testId,
}: {
  title: string;
  series: Series | Omit<Series, 'service'>;
  stepS: number;
  testId: string;
}) {
  const rates = series.requests.map((n) => n / stepS);
  const total = series.requests.reduce((a, b) => a + b, 0);
  const errors = series.errors.reduce((a, b) => a + b, 0);
  const last = rates.length > 0 ? rates[rates.length - 1]! : 0;
  return (
    <article class="timeline-card" data-testid={testId} data-peak-rate={peak(rates)}>
      <h3>{title}</h3>
      <Spark
        label="Rate"
        summary={`peak ${rateText(peak(rates))}, now ${rateText(last)}`}
        lines={[{ values: rates }]}
      />
      <Spark
        label="Errors"
        summary={`${errors} of ${total}`}
        lines={[{ values: series.errors, className: 'errors' }]}
      />
      <Spark
        label="p50 / p99"
        summary={`max ${formatMs(peak(series.p50_ms))} / ${formatMs(peak(series.p99_ms))}`}
        lines={[{ values: series.p50_ms }, { values: series.p99_ms, className: 'p99' }]}
      />
    </article>
  );
}

export function ServicesTimelineTab({ location }: { location: Location }) {
  const q = queryObject(location.query);
  const range = q.range && q.range in RANGES ? q.range : '1h';
  // Whole minutes: the path (and the buckets) move once a minute.
  const toMs = Math.floor(Date.now() / 60_000) * 60_000 + 60_000 - 1;
  const path = href('/api/services/timeline', {
    from: toMs + 1 - RANGES[range]!.ms,
    to: toMs,
    buckets: 60,
  });
  const { data, error } = useApi<Timeline>(path, { pollMs: 30_000, keepWhileLoading: true });
  const set = (key: string, value: string | undefined) =>
    navigate(href(location.path, { ...q, [key]: value }), { replace: true });
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <SelectFilter
          label="Range"
          name="range"
          filters={{ range }}
          set={set}
          options={Object.entries(RANGES).map(([value, { label }]) => [value, label] as const)}
        />
      </form>
      {error && !data && <ErrorState error={error} what="the services over time" />}
      {!data && !error && <Loading what="the services over time" />}
      {data && data.services.length === 0 && data.edges.length === 0 && (
        <Empty title="No traffic in this range">
          <p>Send traffic through instrumented services, or pick a longer range.</p>
        </Empty>
      )}
      {data && (data.services.length > 0 || data.edges.length > 0) && (
        <>
          <p class="muted">
            {data.buckets.length} buckets of{' '}
            {data.step_s >= 3600 ? `${data.step_s / 3600} h` : `${data.step_s / 60} min`} from{' '}
            {formatTime(Date.parse(data.from) * 1000).slice(0, 5)} to{' '}
            {formatTime(Date.parse(data.to) * 1000).slice(0, 5)}. Rates are per second over a
            bucket; the dashed line is p99.
            {data.truncated ? ' Part of the range is older than the aggregates keep.' : ''}
          </p>
          <h2>Services</h2>
          <div class="timeline-grid">
            {data.services.map((s) => (
              <SeriesCard
                key={s.service}
                title={s.service}
                series={s}
                stepS={data.step_s}
                testId={`timeline-service-${s.service}`}
              />
            ))}
          </div>
          {data.edges.length > 0 && (
            <>
              <h2>Calls between services</h2>
              <div class="timeline-grid">
                {data.edges.map((e) => (
                  <SeriesCard
                    key={`${e.from}→${e.to}`}
                    title={`${e.from} → ${e.to}`}
                    series={e}
                    stepS={data.step_s}
                    testId={`timeline-edge-${e.from}-${e.to}`}
                  />
                ))}
              </div>
            </>
          )}
        </>
      )}
    </>
  );
}
