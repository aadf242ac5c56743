import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analyze-trace.js';
import { detectCrossTraceRaces } from './cross-trace-races.js';
import { buildDependencyGraph } from './dependency-graph.js';
import { serviceMetrics } from './service-metrics.js';
import { checkoutFanOut } from './test-support/scenarios.js';
import { TraceSimulator } from './test-support/trace-simulator.js';

describe('analyzeTrace', () => {
  it('gives the races, critical path and diagnostics of a trace', () => {
    const { events, spans } = checkoutFanOut({ taxSkewMs: -200 });
    const analysis = analyzeTrace(events);
    expect(analysis.traceId).toBe(spans.root.sim.traceId);
    expect(analysis.races).toEqual([]);
    expect(analysis.criticalPath?.biggestContributor).toBe('tax');
    expect(analysis.diagnostics.clockSkew.map((s) => s.offsetMs)).toEqual([-200]);
    expect(JSON.parse(JSON.stringify(analysis))).toEqual(analysis);
  });

  it('reports a race of the trace and ignores events of other traces', () => {
    const sim = new TraceSimulator();
    const svc = sim.service('order');
    const root = sim.request(svc);
    const a = root.fork();
    const b = root.fork();
    a.write('order:1', { value: 1 });
    b.write('order:1', { value: 2 });
    root.join(a);
    root.join(b);
    root.respond();
    const other = new TraceSimulator();
    const x = other.request(other.service('order'));
    x.write('order:1', { value: 3 });
    const analysis = analyzeTrace([...sim.events, ...other.events]);
    expect(analysis.races.map((r) => r.kind)).toEqual(['write_write']);
    expect(analysis.diagnostics.summary.events).toBe(sim.events.length);
    // The same events in another order give the same analysis.
    expect(analyzeTrace([...sim.events].reverse())).toEqual(analyzeTrace(sim.events));
  });

  it('never throws on fields of the wrong type', () => {
    const { events } = checkoutFanOut({ taxSkewMs: 30 });
    const odd = events.map((e, i) => ({
      ...e,
      clock: i % 5 === 0 ? {} : e.clock,
      data: {
        ...e.data,
        resource: i,
        status: 'bad',
        incoming: null,
        host: 7,
        error: 'boom',
        lock: [],
      },
    }));
    expect(() => analyzeTrace(odd)).not.toThrow();
    expect(() => buildDependencyGraph(odd)).not.toThrow();
    expect(() => serviceMetrics(odd)).not.toThrow();
    expect(() => detectCrossTraceRaces(odd)).not.toThrow();
  });

  it('handles an empty trace', () => {
    const analysis = analyzeTrace([]);
    expect(analysis).toMatchObject({ traceId: '', races: [], criticalPath: null });
    expect(analysis.diagnostics.brokenChains).toEqual([]);
  });
});
