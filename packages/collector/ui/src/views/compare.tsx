import { useMemo } from 'preact/hooks';
import { useApi } from '../api.js';
import { type ComparedRow, compareTraces } from '../compare-model.js';
import { Empty, ErrorState, Loading } from '../components/states.js';
import { formatDateTime, formatMs, plural } from '../format.js';
import { tracesListHref } from '../list-return.js';
import { Link, type Location } from '../router.js';
import { useTrace } from '../trace-loader.js';
import type { CriticalPath, TraceCriticalPath, TraceDetail } from '../types.js';
import './list.css';

// Two traces side by side: which spans one has that the other lacks (matched by their place
// in the call tree), each service's own time in each, and each critical path.

const SIDES = ['a', 'b'] as const;

function rootOf(t: TraceDetail): string {
  return `${t.root_method ? `${t.root_method} ` : ''}${t.root_route ?? t.root_service ?? '(no root span)'}`;
}

function delta(a: number, b: number): string {
  const d = b - a;
  if (Math.abs(d) < 0.0005) return '±0';
  return `${d > 0 ? '+' : '−'}${formatMs(Math.abs(d))}`;
}

function changeText(row: ComparedRow): string {
  if (row.change === 'added')
    return row.countA === 0 ? 'only in B' : `+${row.countB - row.countA} in B`;
  if (row.change === 'missing')
    return row.countB === 0 ? 'missing in B' : `−${row.countA - row.countB} in B`;
  return '';
}

function CriticalPathList({ path }: { path: CriticalPath | null | undefined }) {
  if (path === undefined) return <p class="muted">Loading…</p>;
  if (path === null) return <p class="muted">Not analysed yet (or no span).</p>;
  return (
    <ol class="critical-list">
      {path.segments.map((s) => (
        <li key={s.spanId}>
          <strong>{s.service}</strong> {s.name} · {formatMs(s.selfMs)} of {formatMs(s.durationMs)}
        </li>
      ))}
    </ol>
  );
}

export function CompareView({ location }: { location: Location }) {
  const ids = { a: location.query.get('a') ?? '', b: location.query.get('b') ?? '' };
  const a = useTrace(ids.a);
  const b = useTrace(ids.b);
  const pathA = useApi<TraceCriticalPath>(
    ids.a ? `/api/traces/${encodeURIComponent(ids.a)}/critical-path` : null,
  );
  const pathB = useApi<TraceCriticalPath>(
    ids.b ? `/api/traces/${encodeURIComponent(ids.b)}/critical-path` : null,
  );
  const comparison = useMemo(
    () => (a.data && b.data ? compareTraces(a.data.spans, b.data.spans) : null),
    [a.data, b.data],
  );

  if (!ids.a || !ids.b) {
    return (
      <section class="view">
        <h1>Compare traces</h1>
        <Empty title="Pick two traces">
          <p>
            Tick two traces in the <Link href={tracesListHref()}>trace list</Link>, then press
            Compare.
          </p>
        </Empty>
      </section>
    );
  }
  const traces = { a: a.data, b: b.data };
  const paths = { a: pathA.data?.critical_path, b: pathB.data?.critical_path };
  const error = a.error ?? b.error;
  const differing = comparison?.rows.filter((r) => r.change !== 'same') ?? [];
  return (
    <section class="view" data-testid="compare-view">
      <p class="crumbs">
        <Link href={tracesListHref()}>Traces</Link> / compare
      </p>
      <h1>Compare traces</h1>
      {error && <ErrorState error={error} what="the traces" />}
      {!error && !comparison && <Loading what="both traces" />}
      {comparison && traces.a && traces.b && (
        <>
          <div class="compare-grid">
            {SIDES.map((side) => {
              const t = traces[side]!;
              return (
                <div key={side} data-testid={`compare-${side}`}>
                  <h2>
                    {side.toUpperCase()}: {rootOf(t)}
                  </h2>
                  <p class="muted">
                    <Link href={`/traces/${t.trace_id}`} class="mono">
                      {t.trace_id.slice(0, 12)}…
                    </Link>{' '}
                    · {formatDateTime(t.start_us)} · {formatMs(t.duration_ms)} ·{' '}
                    {plural(t.span_count, 'span')}
                  </p>
                </div>
              );
            })}
          </div>
          {traces.a.root_route !== traces.b.root_route && (
            <p class="muted">These traces have different root routes: expect many differences.</p>
          )}
          <p data-testid="compare-summary">
            B has {plural(comparison.added, 'span')} A has not, and lacks{' '}
            {plural(comparison.missing, 'span')} A has; it took{' '}
            {delta(traces.a.duration_ms, traces.b.duration_ms)}.
          </p>

          <h2>Spans</h2>
          <div class="table-scroll">
            <table class="compare-table" data-testid="compare-spans">
              <thead>
                <tr>
                  <th scope="col">Where in the call tree</th>
                  <th scope="col" class="num">
                    A
                  </th>
                  <th scope="col" class="num">
                    B
                  </th>
                  <th scope="col" class="num">
                    A time
                  </th>
                  <th scope="col" class="num">
                    B time
                  </th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {[...differing, ...comparison.rows.filter((r) => r.change === 'same')].map(
                  (row) => (
                    <tr key={row.path} data-change={row.change}>
                      <td title={row.path}>
                        <span style={{ paddingLeft: `${Math.min(row.depth, 8) * 12}px` }}>
                          <strong>{row.service}</strong> {row.operation}
                        </span>
                      </td>
                      <td class="num">{row.countA}</td>
                      <td class="num">{row.countB}</td>
                      <td class="num">{row.countA ? formatMs(row.msA) : '–'}</td>
                      <td class="num">{row.countB ? formatMs(row.msB) : '–'}</td>
                      <td
                        class={
                          row.change === 'added'
                            ? 'diff-added'
                            : row.change === 'missing'
                              ? 'diff-missing'
                              : ''
                        }
                      >
                        {changeText(row)}
                      </td>
                    </tr>
                  ),
                )}
              </tbody>
            </table>
          </div>

          <h2>Time per service</h2>
          <p class="muted">
            What each service's spans spent themselves, not waiting on their calls.
          </p>
          <div class="table-scroll">
            <table class="compare-table" data-testid="compare-services">
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col" class="num">
                    A
                  </th>
                  <th scope="col" class="num">
                    B
                  </th>
                  <th scope="col" class="num">
                    B − A
                  </th>
                </tr>
              </thead>
              <tbody>
                {comparison.services.map((s) => (
                  <tr key={s.service}>
                    <td>{s.service}</td>
                    <td class="num">{s.inA ? formatMs(s.msA) : '–'}</td>
                    <td class="num">{s.inB ? formatMs(s.msB) : '–'}</td>
                    <td class="num">{delta(s.msA, s.msB)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>

          <h2>Critical paths</h2>
          <div class="compare-grid" data-testid="compare-critical">
            {SIDES.map((side) => (
              <div key={side}>
                <h3>{side.toUpperCase()}</h3>
                <CriticalPathList path={paths[side]} />
              </div>
            ))}
          </div>
        </>
      )}
    </section>
  );
}
