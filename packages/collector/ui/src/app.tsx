import { useEffect, useRef } from 'preact/hooks';
import { useKeyState } from './api.js';
import { KeyPrompt } from './components/key-prompt.js';
import { Empty } from './components/states.js';
import { UnreachableBanner } from './components/unreachable-banner.js';
import { Link, type Location, navigate, useLocation } from './router.js';
import { CompareView } from './views/compare.js';
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
  if (path === '/compare' || path === '/compare/') return <CompareView location={location} />;
  const insights = /^\/insights(?:\/(dependencies|services|timeline|diagnostics))?\/?$/.exec(path);
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

/**
 * After an in-page navigation, moves the focus to the new view's main heading, as a page load
 * would start a screen reader there (the heading of a view still loading is waited for). The
 * first view of the page keeps the browser's own start.
 */
function useFocusHeadingOnNavigation(path: string) {
  const first = useRef<string | null>(path);
  useEffect(() => {
    if (first.current === path) return;
    first.current = null;
    let tries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const focusHeading = () => {
      const heading = document.querySelector<HTMLElement>('main h1');
      if (heading) {
        heading.tabIndex = -1;
        // A deep link may scroll to what it names (a racing access): the focus does not scroll.
        heading.focus({ preventScroll: true });
      } else if (tries++ < 60) timer = setTimeout(focusHeading, 50);
    };
    focusHeading();
    return () => clearTimeout(timer);
  }, [path]);
}

export function App() {
  const location = useLocation();
  const key = useKeyState();
  useFocusHeadingOnNavigation(location.path);
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
      compare: 'Compare',
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
      <UnreachableBanner />
      <main>
        <View location={location} />
      </main>
      {key.wanted && <KeyPrompt />}
    </>
  );
}
