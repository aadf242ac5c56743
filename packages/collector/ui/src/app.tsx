import { useEffect } from 'preact/hooks';
import { useKeyState } from './api.js';
import { KeyPrompt } from './components/key-prompt.js';
import { Empty } from './components/states.js';
import { Link, type Location, navigate, useLocation } from './router.js';
import { HistoryView } from './views/history.js';
import { InsightsView } from './views/insights.js';
import { RacesView } from './views/races.js';
import { TraceView } from './views/trace.js';
import { TracesView } from './views/traces.js';

const SECTIONS = [
  ['/traces', 'Traces'],
  ['/races', 'Races'],
  ['/insights/dependencies', 'Insights'],
] as const;

function View({ location }: { location: Location }) {
  const { path } = location;
  const trace = /^\/traces\/([^/]+)\/?$/.exec(path);
  if (trace)
    return <TraceView key={trace[1]} traceId={decodeURIComponent(trace[1]!)} location={location} />;
  if (path === '/traces' || path === '/traces/') return <TracesView location={location} />;
  if (path === '/races' || path === '/races/') return <RacesView location={location} />;
  if (path === '/resources/history' || path === '/resources/history/')
    return <HistoryView location={location} />;
  const insights = /^\/insights(?:\/(dependencies|services|diagnostics))?\/?$/.exec(path);
  if (insights) return <InsightsView tab={insights[1] ?? 'dependencies'} location={location} />;
  return (
    <Empty title="No such page">
      <p>
        Nothing lives at <code>{path}</code>. Go to <Link href="/traces">Traces</Link>,{' '}
        <Link href="/races">Races</Link> or <Link href="/insights/dependencies">Insights</Link>.
      </p>
    </Empty>
  );
}

export function App() {
  const location = useLocation();
  const key = useKeyState();
  useEffect(() => {
    if (location.path === '/' || location.path === '/index.html')
      navigate('/traces', { replace: true });
  }, [location.path]);
  useEffect(() => {
    const titles: Record<string, string> = {
      traces: 'Traces',
      races: 'Races',
      insights: 'Insights',
      resources: 'History',
    };
    const section = location.path.split('/')[1] ?? '';
    document.title = `${location.path.startsWith('/traces/') ? 'Trace' : (titles[section] ?? 'Raceway')} · Raceway`;
  }, [location.path]);
  return (
    <>
      <header class="top">
        <Link href="/traces" class="brand">
          Raceway
        </Link>
        <nav aria-label="Views">
          {SECTIONS.map(([to, label]) => {
            const active = location.path.startsWith(`/${to.split('/')[1]}`);
            return (
              <Link
                key={to}
                href={to}
                class={active ? 'active' : undefined}
                aria-current={active ? 'page' : undefined}
              >
                {label}
              </Link>
            );
          })}
        </nav>
        <a class="api-link" href="/api/openapi.json">
          API
        </a>
      </header>
      <main>
        <View location={location} />
      </main>
      {key.wanted && <KeyPrompt />}
    </>
  );
}
