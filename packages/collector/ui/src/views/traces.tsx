import { useMemo, useState } from 'preact/hooks';
import { useApi } from '../api.js';
import { InputFilter, SelectFilter } from '../components/filter-fields.js';
import { Empty, ErrorState, Loading, NoDataYet } from '../components/states.js';
import { VirtualList } from '../components/virtual-list.js';
import { formatDateTime, formatMs, plural, serviceColor } from '../format.js';
import { href, type Location, navigate, queryObject } from '../router.js';
import type { TracePage, TraceSummary } from '../types.js';
import { DurationScatter } from './scatter.js';

// Trace search. Service, status, races and time go to the API; route and duration are
// filtered here over the newest page (500 traces), which the API does not filter on.

const POLL_MS = 2000;
const ROW_HEIGHT = 34;

type SortKey = 'start' | 'duration' | 'spans' | 'races' | 'services';
const SORTS: Record<SortKey, (t: TraceSummary) => number> = {
  start: (t) => t.start_us,
  duration: (t) => t.duration_ms,
  spans: (t) => t.span_count,
  races: (t) => t.race_count,
  services: (t) => t.services.length,
};

/** `datetime-local` value to epoch ms (the API takes either). */
function toEpochMs(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(ms) : undefined;
}

export function TracesView({ location }: { location: Location }) {
  const q = queryObject(location.query);
  const apiPath = href('/api/traces', {
    limit: 500,
    service: q.service,
    status: q.status,
    has_races: q.has_races,
    from: toEpochMs(q.from),
    to: toEpochMs(q.to),
  });
  const { data, error, loading } = useApi<TracePage>(apiPath, { pollMs: POLL_MS });
  const [selected, setSelected] = useState<number | null>(null);

  const set = (key: string, value: string | undefined) =>
    navigate(href('/traces', { ...q, [key]: value }), { replace: true });

  const sortParam = q.sort ?? '-start';
  const sortKey =
    (sortParam.replace(/^-/, '') as SortKey) in SORTS ? sortParam.replace(/^-/, '') : 'start';
  const descending = sortParam.startsWith('-');

  const traces = useMemo(() => {
    const list = data?.traces ?? [];
    const route = q.route?.toLowerCase();
    const min = q.min_ms === undefined ? undefined : Number(q.min_ms);
    const max = q.max_ms === undefined ? undefined : Number(q.max_ms);
    const filtered = list.filter(
      (t) =>
        (!route || `${t.root_method ?? ''} ${t.root_route ?? ''}`.toLowerCase().includes(route)) &&
        (min === undefined || !Number.isFinite(min) || t.duration_ms >= min) &&
        (max === undefined || !Number.isFinite(max) || t.duration_ms <= max),
    );
    const key = SORTS[sortKey as SortKey];
    return filtered.sort((a, b) => (descending ? key(b) - key(a) : key(a) - key(b)));
  }, [data, q.route, q.min_ms, q.max_ms, sortKey, descending]);

  const services = useMemo(
    () => [...new Set((data?.traces ?? []).flatMap((t) => t.services))].sort(),
    [data],
  );
  const filtering = [
    'service',
    'route',
    'status',
    'has_races',
    'min_ms',
    'max_ms',
    'from',
    'to',
  ].some((key) => q[key] !== undefined);

  const sortHeader = (key: SortKey, label: string) => {
    const active = sortKey === key;
    const next = active && descending ? key : `-${key}`;
    return (
      <button
        type="button"
        class={active ? 'sort active' : 'sort'}
        onClick={() => set('sort', next)}
      >
        {label}
        {active ? (descending ? ' ↓' : ' ↑') : ''}
      </button>
    );
  };

  return (
    <section class="view" data-testid="traces-view">
      <h1>Traces</h1>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <SelectFilter
          label="Service"
          name="service"
          filters={q}
          set={set}
          options={[
            ['', 'any'],
            ...[...new Set([...services, ...(q.service ? [q.service] : [])])].map(
              (s) => [s, s] as const,
            ),
          ]}
        />
        <InputFilter
          label="Route"
          name="route"
          type="search"
          placeholder="/checkout"
          filters={q}
          set={set}
        />
        <SelectFilter
          label="Status"
          name="status"
          filters={q}
          set={set}
          options={[
            ['', 'any'],
            ['error', 'errors'],
            ['ok', 'no errors'],
          ]}
        />
        <InputFilter label="Min ms" name="min_ms" type="number" min="0" filters={q} set={set} />
        <InputFilter label="Max ms" name="max_ms" type="number" min="0" filters={q} set={set} />
        <InputFilter label="From" name="from" type="datetime-local" filters={q} set={set} />
        <InputFilter label="To" name="to" type="datetime-local" filters={q} set={set} />
        <label class="check">
          <input
            name="has_races"
            type="checkbox"
            checked={q.has_races === 'true'}
            onChange={(e) =>
              set('has_races', (e.currentTarget as HTMLInputElement).checked ? 'true' : undefined)
            }
          />
          has races
        </label>
        {filtering && (
          <button type="button" onClick={() => navigate('/traces', { replace: true })}>
            Clear filters
          </button>
        )}
      </form>

      {error && !data && <ErrorState error={error} what="traces" />}
      {loading && !data && <Loading what="traces" />}
      {data && data.traces.length === 0 && !filtering && <NoDataYet />}
      {data && traces.length === 0 && (data.traces.length > 0 || filtering) && (
        <Empty title="No trace matches these filters">
          <p>Widen the time range or clear a filter.</p>
        </Empty>
      )}
      {traces.length > 0 && (
        <>
          <DurationScatter traces={traces} />
          <p class="muted" data-testid="trace-count">
            {plural(traces.length, 'trace')}
            {q.service ? ` through ${q.service}` : ''} · updates every {POLL_MS / 1000} s
          </p>
          <VirtualList
            label="Traces"
            testId="trace-list"
            count={traces.length}
            rowHeight={ROW_HEIGHT}
            height={Math.max(240, window.innerHeight - 420)}
            selected={selected}
            onSelect={setSelected}
            onActivate={(i) => navigate(`/traces/${traces[i]!.trace_id}`)}
            header={
              <div class="vrow head trace-row">
                {sortHeader('start', 'Started')}
                <span>Root</span>
                {sortHeader('services', 'Services')}
                {sortHeader('duration', 'Duration')}
                {sortHeader('spans', 'Spans')}
                {sortHeader('races', 'Races')}
                <span>Status</span>
              </div>
            }
            renderRow={(i) => {
              const t = traces[i]!;
              return (
                <div
                  class="trace-row"
                  data-trace-id={t.trace_id}
                  data-services={t.services.join(' ')}
                >
                  <span class="mono">{formatDateTime(t.start_us)}</span>
                  <a
                    href={`/traces/${t.trace_id}`}
                    onClick={(event) => {
                      event.preventDefault();
                      navigate(`/traces/${t.trace_id}`);
                    }}
                  >
                    {t.root_method ?? ''} {t.root_route ?? t.root_service ?? '(no root span)'}
                  </a>
                  <span class="chips">
                    {t.services.map((s) => (
                      <span key={s} class="chip" style={{ borderColor: serviceColor(s) }}>
                        {s}
                      </span>
                    ))}
                  </span>
                  <span class="num">{formatMs(t.duration_ms)}</span>
                  <span class="num">{t.span_count}</span>
                  <span class={t.race_count > 0 ? 'num race-count' : 'num'}>{t.race_count}</span>
                  <span class={t.status === 'error' ? 'status-error' : 'status-ok'}>
                    {t.status === 'error' ? plural(t.error_count, 'error') : 'ok'}
                    {t.analysis === 'pending' ? ' · analysing' : ''}
                  </span>
                </div>
              );
            }}
          />
        </>
      )}
    </section>
  );
}
