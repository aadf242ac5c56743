import { useMemo } from 'preact/hooks';
import { useApi } from '../api.js';
import { RaceEvidence } from '../components/race-evidence.js';
import { ErrorState, Loading } from '../components/states.js';
import { formatDateTime, formatMs, plural, serviceColor } from '../format.js';
import { kindLabel, type RaceView, raceLink, racingAccesses, toRaceView } from '../race-model.js';
import { href, Link, type Location, navigate, queryObject } from '../router.js';
import { buildSpaceTime } from '../space-time-model.js';
import { useTrace } from '../trace-loader.js';
import type {
  RaceExample,
  ServiceMetrics,
  ServicesAnswer,
  TraceCriticalPath,
  TraceDiagnostics,
  TraceRaces,
} from '../types.js';
import { countDiagnostics, DiagnosticsList } from './diagnostics-list.js';
import { EventPanel } from './event-panel.js';
import { SpaceTimeView } from './space-time.js';
import { CriticalPathSummary, Waterfall } from './waterfall.js';

// One trace: waterfall with the critical path, the space-time view with its races marked,
// diagnostics, and the selected events' details. `events=a,b` selects events (a race's
// accesses), `event=x` focuses one, `span=s` selects a span.

export function TraceView({ traceId, location }: { traceId: string; location: Location }) {
  const q = queryObject(location.query);
  const base = `/api/traces/${encodeURIComponent(traceId)}`;
  const trace = useTrace(traceId);
  const path = useApi<TraceCriticalPath>(`${base}/critical-path`);
  const races = useApi<TraceRaces>(`${base}/races`);
  const diagnostics = useApi<TraceDiagnostics>(`${base}/diagnostics`);
  const services = useApi<ServicesAnswer>('/api/services');
  const languages = useMemo(() => languagesOf(services.data?.services ?? []), [services.data]);

  const model = useMemo(() => (trace.data ? buildSpaceTime(trace.data.spans) : null), [trace.data]);
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
  if (!trace.data || !model) return <Loading what="the trace" />;
  const t = trace.data;
  const criticalPath = path.data?.critical_path ?? null;
  const namesLanguages = crossesLanguages(t.services, languages);

  const update = (params: Record<string, string | undefined>) =>
    navigate(href(location.path, { ...q, ...params }), { replace: true });
  const selectSpan = (spanId: string) => {
    const span = model.events.find((e) => e.span.span_id === spanId);
    update({ span: spanId, event: span?.event.id });
  };
  const focusedIds = [...selected];
  if (q.event && !selected.has(q.event)) focusedIds.unshift(q.event);
  const panelEvents = focusedIds
    .map((id) => model.byId.get(id))
    .filter((i): i is number => i !== undefined)
    .map((i) => model.events[i]!);

  return (
    <section
      class="view trace-view"
      data-testid="trace-view"
      data-complete={trace.loadingMore ? undefined : 'true'}
    >
      <p class="crumbs">
        <Link href="/traces">Traces</Link> / <span class="mono">{t.trace_id}</span>
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
      </p>

      <h2>Waterfall</h2>
      <CriticalPathSummary path={criticalPath} />
      <Waterfall
        spans={t.spans}
        startUs={t.start_us}
        totalMs={t.duration_ms}
        criticalPath={criticalPath}
        selectedSpan={q.span ?? null}
        onSelectSpan={selectSpan}
      />

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
            Hover an event for its clock; click to select it.
          </p>
          <SpaceTimeView
            model={model}
            racing={racing}
            selected={selected}
            focused={q.event ?? null}
            onSelect={(id) => update({ event: id })}
          />
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
