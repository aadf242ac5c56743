import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiGet, useApi, useReachability } from '../api.js';
import { InputFilter, SelectFilter } from '../components/filter-fields.js';
import { ServiceChips } from '../components/service-chips.js';
import { Empty, ErrorState, Loading, NoDataYet } from '../components/states.js';
import { GridCell, VirtualList } from '../components/virtual-list.js';
import { formatDateTime, formatMs, formatTime, plural } from '../format.js';
import { rememberTracesList } from '../list-return.js';
import { useOlderPages } from '../older-pages.js';
import { href, type Location, navigate, queryObject } from '../router.js';
import { assignServiceColors } from '../service-colors.js';
import type { TracePage, TraceSummary } from '../types.js';
import { DurationScatter } from './scatter.js';
import './list.css';

// Trace search. Every filter goes to the API, which answers the newest matches a page at a
// time with their count: the first page is refreshed every 2 s, older ones are loaded with
// "Load more" (the API's opaque cursor). Sorting reorders the traces loaded so far. Two traces
// picked in the list open side by side in the compare view.

const POLL_MS = 2000;
const PAGE_SIZE = 500;
const ROW_HEIGHT = 34;
const readPage = (page: TracePage) => ({ items: page.traces, next: page.next_cursor });

/** Time presets: the range ends now and slides with it. */
export const RANGES: Record<string, { label: string; ms: number }> = {
  '15m': { label: 'last 15 min', ms: 15 * 60_000 },
  '1h': { label: 'last hour', ms: 3_600_000 },
  '6h': { label: 'last 6 hours', ms: 6 * 3_600_000 },
  '24h': { label: 'last 24 hours', ms: 24 * 3_600_000 },
};

type SortKey = 'start' | 'duration' | 'spans' | 'races' | 'services';
const SORTS: Record<SortKey, (t: TraceSummary) => number> = {
  start: (t) => t.start_us,
  duration: (t) => t.duration_ms,
  spans: (t) => t.span_count,
  races: (t) => t.race_count,
  services: (t) => t.services.length,
};

const FILTERS = [
  'service',
  'route',
  'status',
  'has_races',
  'min_ms',
  'max_ms',
  'from',
  'to',
  'range',
  'attr',
  'trace',
];

function rootName(t: TraceSummary): string {
  return `${t.root_method ? `${t.root_method} ` : ''}${t.root_route ?? t.root_service ?? '(no root span)'}`;
}

/** A duration bound as typed, or undefined when it is no number (the API would say 400). */
function validNumber(value: string | undefined): string | undefined {
  return value !== undefined && value !== '' && Number(value) >= 0 ? value : undefined;
}

/** `datetime-local` value (or epoch ms, as links may give) to epoch ms (the API takes either). */
function toEpochMs(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return value;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(ms) : undefined;
}

/** An attribute filter the API takes (`key=value`), or undefined. */
const validAttribute = (value: string | undefined) =>
  value !== undefined && value.indexOf('=') > 0 ? value : undefined;

/** Hex digits of a typed trace id (dashes and spaces dropped), or null when it is not hex. */
export function traceIdDigits(text: string): string | null {
  const digits = text.trim().replaceAll('-', '').toLowerCase();
  return /^[0-9a-f]{1,32}$/.test(digits) ? digits : null;
}

/** The date of a day, as the browser's language writes it: "7 December 2026". */
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const dayOf = (tsUs: number) => new Date(tsUs / 1000).toDateString();

/** The start of a row: its time; its short date too when its day is not the header's. */
function startedText(tsUs: number, headerDay: string): string {
  if (dayOf(tsUs) === headerDay) return formatTime(tsUs);
  return `${shortDayFormat.format(new Date(tsUs / 1000))} ${formatTime(tsUs).slice(0, 8)}`;
}

/** The box that opens a trace by its id, or lists the traces whose id starts so. */
function TraceIdBox({ onPrefix }: { onPrefix: (prefix: string) => void }) {
  const [text, setText] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const submit = async () => {
    const digits = traceIdDigits(text);
    if (digits === null) {
      setMessage('A trace id is hex digits (dashes allowed).');
      return;
    }
    if (digits.length === 32) {
      navigate(`/traces/${digits}`);
      return;
    }
    try {
      const page = await apiGet<TracePage>(
        href('/api/traces', { trace_id_prefix: digits, limit: 2 }),
      );
      if (page.traces.length === 1) navigate(`/traces/${page.traces[0]!.trace_id}`);
      else if (page.traces.length === 0) setMessage(`No stored trace id starts with ${digits}.`);
      else {
        setMessage(null);
        onPrefix(digits);
      }
    } catch (error) {
      setMessage((error as Error).message);
    }
  };
  return (
    <form
      class="filters trace-id-box"
      aria-label="Open a trace by id"
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <label>
        Trace id
        <input
          name="trace-id"
          type="search"
          placeholder="id or its start"
          spellcheck={false}
          autocomplete="off"
          value={text}
          onInput={(e) => {
            setText((e.currentTarget as HTMLInputElement).value);
            setMessage(null);
          }}
        />
      </label>
      <button type="submit">Open</button>
      {message && (
        <p class="muted" role="status" data-testid="trace-id-message">
          {message}
        </p>
      )}
    </form>
  );
}

/** What the time filter shows: the preset, the custom range, or "any". */
function rangeChoice(q: Record<string, string>): string {
  if (q.range && q.range in RANGES) return q.range;
  if (q.from !== undefined || q.to !== undefined || q.range === 'custom') return 'custom';
  return '';
}

/** The start of a preset's range, on a whole minute: the list's path changes once a minute. */
function presetFromMs(range: string | undefined, nowMs: number): string | undefined {
  const preset = range ? RANGES[range] : undefined;
  if (!preset) return undefined;
  return String(Math.floor((nowMs - preset.ms) / 60_000) * 60_000);
}

/** The current minute, re-rendering the view when it changes (sliding time presets). */
function useMinute(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, [active]);
  return Math.floor(now / 60_000) * 60_000;
}

export function TracesView({ location }: { location: Location }) {
  const q = queryObject(location.query);
  const choice = rangeChoice(q);
  const minute = useMinute(choice in RANGES);
  const filterParams = {
    service: q.service,
    route: q.route,
    status: q.status,
    has_races: q.has_races,
    min_ms: validNumber(q.min_ms),
    max_ms: validNumber(q.max_ms),
    attr: validAttribute(q.attr),
    trace_id_prefix: q.trace ? (traceIdDigits(q.trace) ?? undefined) : undefined,
  };
  const range =
    choice in RANGES
      ? { from: presetFromMs(choice, minute) }
      : { from: toEpochMs(q.from), to: toEpochMs(q.to) };
  const apiPath = href('/api/traces', { limit: PAGE_SIZE, ...filterParams, ...range });
  const countPath = href('/api/traces', {
    limit: PAGE_SIZE,
    ...filterParams,
    ...range,
    count: 'true',
  });
  const { data, error, loading } = useApi<TracePage>(countPath, {
    pollMs: POLL_MS,
    keepWhileLoading: true,
  });
  // Older pages continue the listing whatever minute the preset's range starts at.
  const olderKey = href('/api/traces', { ...filterParams, range: choice, from: q.from, to: q.to });
  const older = useOlderPages(apiPath, data?.next_cursor, readPage, olderKey);
  const unreachable = useReachability();
  const [selected, setSelected] = useState<number | null>(null);
  const [picked, setPicked] = useState<string[]>([]);

  useEffect(() => rememberTracesList(location.query.toString()), [location.query]);

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
  const colors = useMemo(
    () =>
      assignServiceColors(
        traces.flatMap((t) => [...t.services, t.root_service ?? '(no root span)']),
      ),
    [traces],
  );
  const filtering = FILTERS.some((key) => q[key] !== undefined);
  const headerDay = traces.length > 0 ? dayOf(traces[0]!.start_us) : '';

  const togglePick = (traceId: string) =>
    setPicked((now) =>
      now.includes(traceId) ? now.filter((id) => id !== traceId) : [...now, traceId].slice(-2),
    );

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

  const matches = data?.match_count;
  return (
    <section class="view" data-testid="traces-view">
      <h1>Traces</h1>
      <TraceIdBox onPrefix={(prefix) => set('trace', prefix)} />
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
        <InputFilter
          label="Attribute"
          name="attr"
          type="search"
          placeholder="key=value"
          filters={q}
          set={set}
        />
        <label>
          Time
          <select
            name="range"
            value={choice}
            onChange={(e) => {
              const value = (e.currentTarget as HTMLSelectElement).value;
              // A preset replaces a custom range; "custom" starts from the preset's bounds.
              const next: Record<string, string | undefined> = { ...q, range: value || undefined };
              if (value !== 'custom') {
                delete next.from;
                delete next.to;
              }
              navigate(href('/traces', next), { replace: true });
            }}
          >
            <option value="">any</option>
            {Object.entries(RANGES).map(([value, { label }]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
            <option value="custom">custom…</option>
          </select>
        </label>
        {/* A date-time field is six Tab stops: shown only for a custom range. */}
        {choice === 'custom' && (
          <>
            <InputFilter label="From" name="from" type="datetime-local" filters={q} set={set} />
            <InputFilter label="To" name="to" type="datetime-local" filters={q} set={set} />
          </>
        )}
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
      {q.trace && (
        <p class="muted">
          Trace ids starting with <code>{q.trace}</code>{' '}
          <button type="button" onClick={() => set('trace', undefined)}>
            Show all ids
          </button>
        </p>
      )}

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
          {matches !== undefined && (
            <p class="match-count" data-testid="match-count" aria-live="polite">
              {matches.toLocaleString()}
              {data?.match_count_capped ? '+' : ''}{' '}
              {matches === 1 ? 'trace matches' : 'traces match'}
            </p>
          )}
          <DurationScatter traces={traces} colors={colors} />
          <p class="muted" data-testid="trace-count">
            {older.next === null ? '' : 'newest '}
            {plural(traces.length, 'trace')}
            {q.service ? ` through ${q.service}` : ''} ·{' '}
            {unreachable === null ? `updates every ${POLL_MS / 1000} s` : 'not updating'}
          </p>
          <div class="compare-bar">
            <span class="muted" data-testid="compare-picked">
              {picked.length === 0
                ? 'Tick two traces (or press Space on a row) to compare them.'
                : `${plural(picked.length, 'trace')} picked to compare`}
            </span>
            <button
              type="button"
              data-testid="compare"
              disabled={picked.length !== 2}
              onClick={() => navigate(href('/compare', { a: picked[0], b: picked[1] }))}
            >
              Compare
            </button>
            {picked.length > 0 && (
              <button type="button" onClick={() => setPicked([])}>
                Clear picks
              </button>
            )}
          </div>
          <p class="date-header" data-testid="date-header">
            {dayFormat.format(new Date(traces[0]!.start_us / 1000))}
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
            onRowKey={(key, i) => {
              if (key !== ' ') return false;
              togglePick(traces[i]!.trace_id);
              return true;
            }}
            header={
              <div class="vrow head trace-row pickable">
                <span>
                  <span class="sr-only">Compare</span>
                </span>
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
                  class="trace-row pickable"
                  data-trace-id={t.trace_id}
                  data-services={t.services.join(' ')}
                >
                  <GridCell class="pick">
                    {/* Out of the Tab order: Space on the row ticks it. */}
                    <input
                      type="checkbox"
                      tabIndex={-1}
                      aria-label={`Compare ${rootName(t)} at ${formatTime(t.start_us)}`}
                      checked={picked.includes(t.trace_id)}
                      onClick={(event) => event.stopPropagation()}
                      onChange={() => togglePick(t.trace_id)}
                    />
                  </GridCell>
                  <GridCell class="mono cut" title={formatDateTime(t.start_us)}>
                    {startedText(t.start_us, headerDay)}
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
                    <ServiceChips services={t.services} colors={colors} />
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
