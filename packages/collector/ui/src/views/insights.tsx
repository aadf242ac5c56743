import { useMemo } from 'preact/hooks';
import { useApi } from '../api.js';
import { Empty, ErrorState, Loading } from '../components/states.js';
import { formatDateTime, formatMs, formatPercent, plural } from '../format.js';
import { href, Link, type Location } from '../router.js';
import type {
  DependencyEdge,
  DependencyNode,
  DiagnosticsPage,
  ServiceSdk,
  ServicesAnswer,
  TracePage,
  TraceSummary,
} from '../types.js';
import { DependencyGraph } from './dependency-graph.js';
import { ServicesTimelineTab } from './services-timeline.js';

// Insights: the dependency graph, the services' health, and diagnostics across traces.

const TABS = [
  ['dependencies', 'Dependency graph'],
  ['services', 'Services'],
  ['timeline', 'Services over time'],
  ['diagnostics', 'Diagnostics'],
] as const;

function Tabs({ tab }: { tab: string }) {
  return (
    <nav class="tabs" aria-label="Insights">
      {TABS.map(([id, label]) => (
        <Link
          key={id}
          href={`/insights/${id}`}
          class={tab === id ? 'tab active' : 'tab'}
          aria-current={tab === id ? 'page' : undefined}
        >
          {label}
        </Link>
      ))}
    </nav>
  );
}

function NoTraffic() {
  return (
    <Empty title="No traffic in the last hour">
      <p>
        The graph is built from the calls services report. Send some traffic through instrumented
        services (or run <code>pnpm demo</code>), then come back.
      </p>
    </Empty>
  );
}

function DependenciesTab() {
  const { data, error } = useApi<{
    nodes: DependencyNode[];
    edges: DependencyEdge[];
    truncated?: boolean;
  }>('/api/dependencies', { pollMs: 10_000 });
  if (error && !data) return <ErrorState error={error} what="the dependency graph" />;
  if (!data) return <Loading what="the dependency graph" />;
  if (data.edges.length === 0 && data.nodes.length === 0) return <NoTraffic />;
  return (
    <>
      <p class="muted">
        Last hour. Click a service for the traces through it;{' '}
        {data.nodes.some((n) => n.uninstrumented)
          ? 'dashed nodes are peers that were called but never reported (uninstrumented).'
          : 'every peer called is instrumented.'}
        {data.truncated
          ? ' Some events were left out (the range holds more than the aggregates keep).'
          : ''}
      </p>
      <div class="graph-frame">
        <DependencyGraph nodes={data.nodes} edges={data.edges} />
      </div>
      <p class="chips">
        Races by service:{' '}
        {data.nodes
          .filter((n) => !n.uninstrumented)
          .map((n) => (
            <Link key={n.name} class="chip" href={href('/races', { service: n.name })}>
              {n.name}
            </Link>
          ))}
      </p>
    </>
  );
}

/** The slowest root routes of the newest traces, for services the API gives no routes for. */
function slowestRoutes(
  traces: TraceSummary[],
): Map<string, Array<{ route: string; p50: number; max: number; n: number }>> {
  const byService = new Map<string, Map<string, number[]>>();
  for (const t of traces) {
    if (!t.root_service || !t.root_route) continue;
    const routes = byService.get(t.root_service) ?? new Map<string, number[]>();
    byService.set(t.root_service, routes);
    const route = `${t.root_method ?? ''} ${t.root_route}`.trim();
    const list = routes.get(route) ?? [];
    list.push(t.duration_ms);
    routes.set(route, list);
  }
  const out = new Map<string, Array<{ route: string; p50: number; max: number; n: number }>>();
  for (const [service, routes] of byService) {
    out.set(
      service,
      [...routes]
        .map(([route, list]) => {
          const sorted = [...list].sort((a, b) => a - b);
          return {
            route,
            p50: sorted[Math.floor((sorted.length - 1) / 2)]!,
            max: sorted[sorted.length - 1]!,
            n: sorted.length,
          };
        })
        .sort((a, b) => b.p50 - a.p50)
        .slice(0, 3),
    );
  }
  return out;
}

/**
 * The SDKs a service reports, newest first: `python · raceway-sdk 0.1.0`, with the instance
 * count when several SDKs are seen at once (an upgrade rolling out).
 */
function SdkList({ sdks }: { sdks: ServiceSdk[] }) {
  if (sdks.length === 0) return <span class="muted">–</span>;
  return (
    <>
      {sdks.map((sdk, i) => (
        <span
          key={`${sdk.name}@${sdk.version}`}
          class={i === 0 ? 'sdk' : 'sdk muted'}
          data-language={sdk.language ?? ''}
          title={`last batch ${formatDateTime(Date.parse(sdk.last_seen) * 1000)}`}
        >
          {i > 0 && ' · '}
          {sdk.language ? `${sdk.language} · ` : ''}
          {sdk.name} {sdk.version}
          {sdks.length > 1 && ` (${plural(sdk.instances, 'instance')})`}
        </span>
      ))}
    </>
  );
}

function ServicesTab() {
  const { data, error } = useApi<ServicesAnswer>('/api/services', {
    pollMs: 10_000,
  });
  const traces = useApi<TracePage>('/api/traces?limit=500');
  const routes = useMemo(() => slowestRoutes(traces.data?.traces ?? []), [traces.data]);
  if (error && !data) return <ErrorState error={error} what="service metrics" />;
  if (!data) return <Loading what="service metrics" />;
  if (data.services.length === 0) return <NoTraffic />;
  return (
    <>
      {/* Wider than a narrow window: it scrolls in its own box, which the keyboard can reach. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be focusable to scroll with the keyboard */}
      <section class="table-scroll" tabIndex={0} aria-label="Services table">
        <table class="services" data-testid="services-table">
          <thead>
            <tr>
              <th>Service</th>
              <th>SDK</th>
              <th class="num">Requests</th>
              <th class="num">Error rate</th>
              <th class="num">p50</th>
              <th class="num">p95</th>
              <th class="num">p99</th>
              <th>Slowest routes</th>
            </tr>
          </thead>
          <tbody>
            {data.services.map((s) => {
              const own = (routes.get(s.service) ?? []).map(
                (r) => `${r.route} (p50 ${formatMs(r.p50)}, ${plural(r.n, 'trace')})`,
              );
              return (
                <tr key={s.service} data-service={s.service}>
                  <td>
                    <Link href={href('/traces', { service: s.service })}>{s.service}</Link>
                  </td>
                  <td data-testid="service-sdk">
                    <SdkList sdks={s.sdks ?? []} />
                  </td>
                  <td class="num">{s.requests}</td>
                  <td class={s.errorRate > 0 ? 'num status-error' : 'num'}>
                    {formatPercent(s.errorRate)}
                  </td>
                  <td class="num">{formatMs(s.latencyMs.p50)}</td>
                  <td class="num">{formatMs(s.latencyMs.p95)}</td>
                  <td class="num">{formatMs(s.latencyMs.p99)}</td>
                  <td>{own.length > 0 ? own.join(' · ') : <span class="muted">–</span>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      <p class="muted">
        Last hour. Slowest routes: of the newest 500 traces, the routes where the service was the
        root of the trace.
      </p>
    </>
  );
}

function DiagnosticsTab() {
  const { data, error } = useApi<DiagnosticsPage>('/api/diagnostics?limit=200', {
    pollMs: 10_000,
  });
  if (error && !data) return <ErrorState error={error} what="diagnostics" />;
  if (!data) return <Loading what="diagnostics" />;
  if (data.traces.length === 0) {
    return (
      <Empty title="No diagnostics">
        <p>No trace shows a broken chain, a rejected context, clock skew or an error chain.</p>
      </Empty>
    );
  }
  return (
    <ul class="diag-traces" data-testid="diagnostics-list">
      {data.traces.map((t) => {
        const lines = (['brokenChains', 'errors', 'clockSkew'] as const).flatMap((key) =>
          t.diagnostics[key].map((item) => item.explanation),
        );
        return (
          <li key={t.trace_id}>
            <Link href={`/traces/${t.trace_id}`}>
              {t.root_method ?? ''} {t.root_route ?? t.root_service ?? t.trace_id}
            </Link>{' '}
            <span class="muted">
              {formatDateTime(t.start_us)} · {plural(t.diagnostic_count, 'diagnostic')}
            </span>
            <ul>
              {lines.slice(0, 4).map((line) => (
                <li key={line}>{line}</li>
              ))}
              {lines.length > 4 && <li class="muted">and {lines.length - 4} more</li>}
            </ul>
          </li>
        );
      })}
    </ul>
  );
}

export function InsightsView({ tab, location }: { tab: string; location: Location }) {
  return (
    <section class="view" data-testid={`insights-${tab}`}>
      <h1>Insights</h1>
      <Tabs tab={tab} />
      {tab === 'services' ? (
        <ServicesTab />
      ) : tab === 'timeline' ? (
        <ServicesTimelineTab location={location} />
      ) : tab === 'diagnostics' ? (
        <DiagnosticsTab />
      ) : (
        <DependenciesTab />
      )}
    </section>
  );
}
