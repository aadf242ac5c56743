import { useEffect, useMemo, useState } from 'preact/hooks';
import { useApi } from '../api.js';
import { DownloadTrace } from '../components/download-trace.js';
import { RaceEvidence } from '../components/race-evidence.js';
import { ErrorState, Loading } from '../components/states.js';
import { TraceOverview } from '../components/trace-overview.js';
import { formatDateTime, formatMs, plural, serviceColor } from '../format.js';
import { tracesListHref } from '../list-return.js';
import { kindLabel, type RaceView, raceLink, racingAccesses, toRaceView } from '../race-model.js';
import { href, Link, type Location, navigate, queryObject } from '../router.js';
import { buildSpaceTime, type SpaceTime, servicesToFold } from '../space-time-model.js';
import { useTrace } from '../trace-loader.js';
import {
  ancestorIds,
  clampWindow,
  countDescendants,
  indexSpans,
  searchSpans,
  type TimeWindow,
  visibleRows,
} from '../trace-tree.js';
import type {
  RaceExample,
  ServiceMetrics,
  ServicesAnswer,
  TraceCriticalPath,
  TraceDetail,
  TraceDiagnostics,
  TraceRaces,
} from '../types.js';
import { countDiagnostics, DiagnosticsList } from './diagnostics-list.js';
import { EventPanel } from './event-panel.js';
import { SpaceTimeView } from './space-time.js';
import { SpanPanel } from './span-panel.js';
import { TraceSearch } from './trace-search.js';
import './trace.css';
import { CriticalPathSummary, Waterfall } from './waterfall.js';

// One trace: waterfall with the critical path and the selected span beside it, the space-time
// view with its races marked, diagnostics, and the selected events' details. `events=a,b`
// selects events (a race's accesses), `event=x` focuses one, `span=s` selects a span. The
// waterfall is drawn first; the space-time layout (the costly part of a big trace, and below
// the fold) follows in the next task, so the first screen does not wait for it.

export function TraceView({ traceId, location }: { traceId: string; location: Location }) {
  const q = queryObject(location.query);
  const base = `/api/traces/${encodeURIComponent(traceId)}`;
  const trace = useTrace(traceId);
  const path = useApi<TraceCriticalPath>(`${base}/critical-path`);
  const races = useApi<TraceRaces>(`${base}/races`);
  const diagnostics = useApi<TraceDiagnostics>(`${base}/diagnostics`);
  const services = useApi<ServicesAnswer>('/api/services');
  const languages = useMemo(() => languagesOf(services.data?.services ?? []), [services.data]);

  const spans = trace.data?.spans;
  const model = useSpaceTime(spans);
  const tree = useMemo(() => {
    const roots = spans ?? [];
    return { roots, byId: indexSpans(roots), descendants: countDescendants(roots) };
  }, [spans]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo(
    () => visibleRows(tree.roots, collapsed, tree.descendants),
    [tree, collapsed],
  );
  const allRows = useMemo(() => visibleRows(tree.roots, new Set(), tree.descendants), [tree]);
  const [zoom, setZoom] = useState<TimeWindow | null>(null);
  const [query, setQuery] = useState('');
  const [matchAt, setMatchAt] = useState(0);
  const matches = useMemo(() => searchSpans(tree.roots, query), [tree, query]);
  const matchSet = useMemo(() => new Set(matches), [matches]);
  const raceViews = useMemo(() => (races.data?.races ?? []).map(toRaceView), [races.data]);
  const racing = useMemo(() => new Set(racingAccesses(raceViews).keys()), [raceViews]);
  // `race=<instance id>`: the race opened from a link; its accesses in this trace are selected.
  const focusRace = useMemo(() => findRaceInstance(raceViews, q.race), [raceViews, q.race]);
  const selected = useMemo(() => {
    const ids = new Set((q.events ?? '').split(',').filter((id) => id !== ''));
    for (const access of focusRace?.example.accesses ?? []) {
      if (access.traceId === traceId) ids.add(access.eventId);
    }
    return ids;
  }, [q.events, focusRace, traceId]);

  if (trace.error) return <ErrorState error={trace.error} what={`trace ${traceId}`} />;
  if (!trace.data) return <Loading what="the trace" />;
  const t = trace.data;
  const criticalPath = path.data?.critical_path ?? null;
  const namesLanguages = crossesLanguages(t.services, languages);
  const totalMs = Math.max(t.duration_ms, 0.001);

  const update = (params: Record<string, string | undefined>) =>
    navigate(href(location.path, { ...q, ...params }), { replace: true });
  const selectSpan = (spanId: string) => {
    const first = tree.byId.get(spanId)?.events[0];
    update({ span: spanId, event: first?.id });
  };
  const toggle = (spanId: string, fold: boolean) => {
    const next = new Set(collapsed);
    if (fold) next.add(spanId);
    else next.delete(spanId);
    setCollapsed(next);
  };
  /** Goes to the `n`th match: unfolds the way to it and selects it (the list scrolls to it). */
  const goToMatch = (n: number) => {
    if (matches.length === 0) return;
    const at = ((n % matches.length) + matches.length) % matches.length;
    const id = matches[at]!;
    const hidden = ancestorIds(id, tree.byId).filter((a) => collapsed.has(a));
    if (hidden.length > 0) {
      const next = new Set(collapsed);
      for (const a of hidden) next.delete(a);
      setCollapsed(next);
    }
    setMatchAt(at);
    selectSpan(id);
  };
  const foldAll = () =>
    setCollapsed(
      new Set(allRows.filter((r) => r.depth >= 1 && r.descendants > 0).map((r) => r.span.span_id)),
    );
  const focusedIds = [...selected];
  if (q.event && !selected.has(q.event)) focusedIds.unshift(q.event);
  const panelEvents = model
    ? focusedIds
        .map((id) => model.space.byId.get(id))
        .filter((i): i is number => i !== undefined)
        .map((i) => model.space.events[i]!)
    : [];
  const selectedSpan = q.span ? (tree.byId.get(q.span) ?? null) : null;

  return (
    <section
      class="view trace-view"
      data-testid="trace-view"
      data-complete={trace.loadingMore ? undefined : 'true'}
    >
      <p class="crumbs">
        <Link href={tracesListHref()}>Traces</Link> / <span class="mono">{t.trace_id}</span>
      </p>
      <h1>
        {t.root_method ?? ''} {t.root_route ?? t.root_service ?? 'trace'}{' '}
        <span class="muted">{formatMs(t.duration_ms)}</span>
      </h1>
      <p class="chips">
        {formatDateTime(t.start_us)} · {plural(t.span_count, 'span')} ·{' '}
        {plural(t.event_count, 'event')} ·{' '}
        {t.services.map((s) => (
          <Link
            key={s}
            class="chip"
            href={href('/traces', { service: s })}
            style={{ borderColor: serviceColor(s) }}
            data-service={s}
          >
            {s}
            {namesLanguages && languages.has(s) && (
              <span class="muted" data-language={languages.get(s)}>
                {' '}
                · {languages.get(s)}
              </span>
            )}
          </Link>
        ))}
        {t.status === 'error' && <span class="badge error">{plural(t.error_count, 'error')}</span>}
        {t.analysis === 'pending' && <span class="badge warn">analysis pending</span>}
        {trace.cut && <span class="badge warn">showing the first 200,000 events</span>}
        {trace.loadingMore && <span class="badge">loading more events…</span>}
        <DownloadTrace trace={t} complete={!trace.loadingMore} />
      </p>

      <h2>Waterfall</h2>
      <CriticalPathSummary path={criticalPath} />
      <div class="trace-tools">
        <TraceSearch
          query={query}
          count={matches.length}
          at={matchAt}
          shown={matches[matchAt] !== undefined && matches[matchAt] === q.span}
          onQuery={(text) => {
            setQuery(text);
            setMatchAt(0);
          }}
          onGo={goToMatch}
        />
        <span class="fold-all">
          <button type="button" data-testid="fold-all" onClick={foldAll}>
            Fold all
          </button>{' '}
          <button type="button" data-testid="unfold-all" onClick={() => setCollapsed(new Set())}>
            Unfold all
          </button>
        </span>
      </div>
      <TraceOverview
        rows={allRows}
        startUs={t.start_us}
        totalMs={totalMs}
        window={zoom}
        onZoom={(next) => setZoom(clampWindow(next, totalMs))}
      />
      <div class="waterfall-split">
        <Waterfall
          rows={rows}
          startUs={t.start_us}
          totalMs={totalMs}
          window={zoom}
          criticalPath={criticalPath}
          selectedSpan={q.span ?? null}
          onSelectSpan={selectSpan}
          collapsed={collapsed}
          onToggle={toggle}
          matches={matchSet}
          activeMatch={matches[matchAt] ?? null}
        />
        <SpanPanel span={selectedSpan} startUs={t.start_us} />
      </div>

      <div class="split">
        <div class="split-main">
          {focusRace && (
            <section class="race-focus" data-testid="race-focus" aria-labelledby="race-focus-title">
              <h2 id="race-focus-title">
                <span class={`badge kind-${focusRace.race.kind}`}>
                  {kindLabel(focusRace.race.kind)}
                </span>{' '}
                on <span class="mono">{focusRace.race.resource}</span>
                {focusRace.race.scope === 'cross' ? ' across traces' : ''}
              </h2>
              <p>{focusRace.example.explanation || focusRace.race.explanation}</p>
              <RaceEvidence example={focusRace.example} traceId={traceId} />
            </section>
          )}
          <h2>Space-time</h2>
          <p class="muted legend">
            One column per execution context, grouped by service; time flows down in happens-before
            order. <span class="lg call">call</span> <span class="lg response">response</span>{' '}
            <span class="lg fork">fork/join</span> <span class="lg racing">racing access</span>.
            Hover or focus an event for its clock; click it (or press Enter) to select it. The
            diagram is one Tab stop: ↑ ↓ follow a context, ← → go to the next one, Home and End to
            the first and last event. ▾ folds a service's contexts into one column.
          </p>
          {model ? (
            <SpaceTimeView
              model={model.space}
              racing={racing}
              selected={selected}
              focused={q.event ?? null}
              onSelect={(id) => update({ event: id })}
              window={zoom}
              startUs={t.start_us}
              onFoldService={(service, fold) => model.fold(service, fold)}
            />
          ) : (
            <Loading what="the space-time view" />
          )}
        </div>
        <EventPanel events={panelEvents} />
      </div>

      <h2>
        Races in this trace{' '}
        {raceViews.length > 0 && <span class="muted">({raceViews.length})</span>}
      </h2>
      {races.error && <ErrorState error={races.error} what="races" />}
      {races.data && raceViews.length === 0 && <p>No race involves this trace.</p>}
      <ul class="race-list" data-testid="trace-races">
        {raceViews.map((race) => {
          const example = race.examples[0];
          return (
            <li key={race.id}>
              <span class={`badge kind-${race.kind}`}>{kindLabel(race.kind)}</span>{' '}
              <b title={race.resource}>{race.label}</b> · {race.services.join(' ↔ ')}
              {race.scope === 'cross' ? ' · across traces' : ''}
              {race.count > 1 ? ` · ×${race.count}` : ''} — {race.explanation}{' '}
              {example && (
                <Link href={raceLink(example, traceId)} data-testid="mark-race">
                  mark its accesses
                </Link>
              )}
            </li>
          );
        })}
      </ul>

      <h2>
        Diagnostics{' '}
        {countDiagnostics(diagnostics.data?.diagnostics ?? null) > 0 && (
          <span class="muted">({countDiagnostics(diagnostics.data?.diagnostics ?? null)})</span>
        )}
      </h2>
      {diagnostics.error ? (
        <ErrorState error={diagnostics.error} what="diagnostics" />
      ) : (
        <DiagnosticsList diagnostics={diagnostics.data?.diagnostics ?? null} />
      )}
    </section>
  );
}

/**
 * The space-time layout of `spans`, built after the first paint (the waterfall shows first), with
 * the services whose contexts are folded into one column: those of many contexts at first.
 */
function useSpaceTime(
  spans: TraceDetail['spans'] | undefined,
): { space: SpaceTime; fold: (service: string, fold: boolean) => void } | null {
  // What the user folded or unfolded, over the defaults.
  const [choices, setChoices] = useState<ReadonlyMap<string, boolean>>(new Map());
  const [space, setSpace] = useState<SpaceTime | null>(null);
  useEffect(() => {
    if (!spans) return;
    const timer = setTimeout(() => {
      const folded = servicesToFold(spans);
      for (const [service, fold] of choices) {
        if (fold) folded.add(service);
        else folded.delete(service);
      }
      setSpace(buildSpaceTime(spans, folded));
    }, 0);
    return () => clearTimeout(timer);
  }, [spans, choices]);
  if (!space) return null;
  return {
    space,
    fold: (service, fold) => setChoices(new Map([...choices, [service, fold]])),
  };
}

/** The race instance `id` among the trace's races, with its group; null when absent. */
function findRaceInstance(
  races: RaceView[],
  id: string | undefined,
): { race: RaceView; example: RaceExample } | null {
  if (!id) return null;
  for (const race of races) {
    const example = race.examples.find((e) => e.id === id);
    if (example) return { race, example };
  }
  return null;
}

/** Each service's language, as its most recent SDK names it in its batches. */
function languagesOf(services: ServiceMetrics[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of services) {
    const language = s.sdks?.[0]?.language;
    if (language) out.set(s.service, language);
  }
  return out;
}

/** Whether a trace's services run SDKs of more than one language: then each chip names it. */
function crossesLanguages(services: string[], languages: Map<string, string>): boolean {
  return new Set(services.map((s) => languages.get(s)).filter(Boolean)).size > 1;
}
