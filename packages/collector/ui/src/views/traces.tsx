import { useMemo, useState } from 'preact/hooks';
import { useApi, useReachability } from '../api.js';
import { InputFilter, SelectFilter } from '../components/filter-fields.js';
import { ServiceChips } from '../components/service-chips.js';
import { Empty, ErrorState, Loading, NoDataYet } from '../components/states.js';
import { GridCell, VirtualList } from '../components/virtual-list.js';
import { formatDateTime, formatMs, formatStarted, plural } from '../format.js';
import { useOlderPages } from '../older-pages.js';
import { href, type Location, navigate, queryObject } from '../router.js';
import type { TracePage, TraceSummary } from '../types.js';
import { DurationScatter } from './scatter.js';

// Trace search. Every filter goes to the API, which answers the newest matches a page at a
// time: the first page is refreshed every 2 s, older ones are loaded with "Load more". Sorting
// reorders the traces loaded so far.

const POLL_MS = 2000;
const PAGE_SIZE = 500;
const ROW_HEIGHT = 34;
const readPage = (page: TracePage) => ({ items: page.traces, next: page.next_cursor });

type SortKey = 'start' | 'duration' | 'spans' | 'races' | 'services';
const SORTS: Record<SortKey, (t: TraceSummary) => number> = {
  start: (t) => t.start_us,
  duration: (t) => t.duration_ms,
  spans: (t) => t.span_count,
  races: (t) => t.race_count,
  services: (t) => t.services.length,
};

function rootName(t: TraceSummary): string {
  return `${t.root_method ? `${t.root_method} ` : ''}${t.root_route ?? t.root_service ?? '(no root span)'}`;
}

/** A duration bound as typed, or undefined when it is no number (the API would say 400). */
function validNumber(value: string | undefined): string | undefined {
  return value !== undefined && value !== '' && Number(value) >= 0 ? value : undefined;
}

/** `datetime-local` value to epoch ms (the API takes either). */
function toEpochMs(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(ms) : undefined;
}

export function TracesView({ location }: { location: Location }) {
  const q = queryObject(location.query);
  const apiPath = href('/api/traces', {
    limit: PAGE_SIZE,
    service: q.service,
    route: q.route,
    status: q.status,
    has_races: q.has_races,
    min_ms: validNumber(q.min_ms),
    max_ms: validNumber(q.max_ms),
    from: toEpochMs(q.from),
    to: toEpochMs(q.to),
  });
  const { data, error, loading } = useApi<TracePage>(apiPath, { pollMs: POLL_MS });
  const older = useOlderPages(apiPath, data?.next_cursor, readPage);
  const unreachable = useReachability();
  const [selected, setSelected] = useState<number | null>(null);

  const set = (key: string, value: string | undefined) =>
    navigate(href('/traces', { ...q, [key]: value }), { replace: true });

  const sortParam = q.sort ?? '-start';
  const sortKey =
    (sortParam.replace(/^-/, '') as SortKey) in SORTS ? sortParam.replace(/^-/, '') : 'start';
  const descending = sortParam.startsWith('-');

  const traces = useMemo(() => {
    // The refreshed first page may now hold traces an older page holds too: each once.
    const seen = new Set<string>();
    const list = [...(data?.traces ?? []), ...older.items].filter(
      (t) => !seen.has(t.trace_id) && seen.add(t.trace_id),
    );
    const key = SORTS[sortKey as SortKey];
    return list.sort((a, b) => (descending ? key(b) - key(a) : key(a) - key(b)));
  }, [data, older.items, sortKey, descending]);

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
        {/* A date-time field is six Tab stops: the range stays folded until asked for. */}
        <details class="time-range" open={q.from !== undefined || q.to !== undefined}>
          <summary>
            Time: {q.from || q.to ? `${q.from ?? 'start'} – ${q.to ?? 'now'}` : 'any'}
          </summary>
          <InputFilter label="From" name="from" type="datetime-local" filters={q} set={set} />
          <InputFilter label="To" name="to" type="datetime-local" filters={q} set={set} />
        </details>
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
      {data && traces.length === 0 && filtering && (
        <Empty title="No trace matches these filters">
          <p>Widen the time range or clear a filter.</p>
        </Empty>
      )}
      {traces.length > 0 && (
        <>
          <DurationScatter traces={traces} />
          <p class="muted" data-testid="trace-count">
            {older.next === null ? '' : 'newest '}
            {plural(traces.length, 'trace')}
            {q.service ? ` through ${q.service}` : ''} ·{' '}
            {unreachable === null ? `updates every ${POLL_MS / 1000} s` : 'not updating'}
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
                  <GridCell class="mono cut" title={formatDateTime(t.start_us)}>
                    {formatStarted(t.start_us)}
                  </GridCell>
                  <GridCell class="cell">
                    {/* Out of the Tab order: the list holds the focus, Enter opens the row. */}
                    <a
                      class="cut"
                      title={rootName(t)}
                      tabIndex={-1}
                      href={`/traces/${t.trace_id}`}
                      onClick={(event) => {
                        event.preventDefault();
                        navigate(`/traces/${t.trace_id}`);
                      }}
                    >
                      {rootName(t)}
                    </a>
                  </GridCell>
                  <GridCell class="cell">
                    <ServiceChips services={t.services} />
                  </GridCell>
                  <GridCell class="num">{formatMs(t.duration_ms)}</GridCell>
                  <GridCell class="num">{t.span_count}</GridCell>
                  <GridCell class={t.race_count > 0 ? 'num race-count' : 'num'}>
                    {t.race_count}
                  </GridCell>
                  <GridCell class={t.status === 'error' ? 'status-error cut' : 'status-ok cut'}>
                    {t.status === 'error' ? plural(t.error_count, 'error') : 'ok'}
                    {t.analysis === 'pending' ? ' · analysing' : ''}
                  </GridCell>
                </div>
              );
            }}
          />
          {older.next !== null && (
            <p class="more">
              <button
                type="button"
                data-testid="load-more"
                disabled={older.loading}
                onClick={older.loadMore}
              >
                {older.loading ? 'Loading…' : `Load ${PAGE_SIZE} older traces`}
              </button>
            </p>
          )}
          {older.error && <ErrorState error={older.error} what="older traces" />}
        </>
      )}
    </section>
  );
}
