import { describe, expect, it } from 'vitest';
import { computeCriticalPath } from './critical-path.js';
import { checkoutFanOut } from './test-support/scenarios.js';
import { TraceSimulator } from './test-support/trace-simulator.js';

const contributions = (path: ReturnType<typeof computeCriticalPath>) =>
  Object.fromEntries(path!.services.map((s) => [s.service, s.ms]));

describe('computeCriticalPath', () => {
  it('follows the slowest branch of a parallel fan-out across five services', () => {
    const { events, spans } = checkoutFanOut();
    const path = computeCriticalPath(events);
    expect(path).not.toBeNull();
    expect(path!.totalMs).toBe(100);
    expect(path!.rootSpanId).toBe(spans.root.spanId);
    expect(contributions(path)).toEqual({ tax: 38, order: 30, pricing: 20, gateway: 12 });
    expect(path!.biggestContributor).toBe('tax');
    expect(path!.services[0]).toEqual({ service: 'tax', ms: 38, percent: 38 });
    expect(path!.skewAdjusted).toBe(false);
    // Consecutive stretches covering the root from start to end.
    let at = 0;
    for (const section of path!.sections) {
      expect(section.startMs).toBeCloseTo(at, 6);
      at = section.startMs + section.durationMs;
    }
    expect(at).toBeCloseTo(100, 6);
    // The server spans on the path, in the order the path reaches them, with their self time.
    const servers = path!.segments.filter((s) => s.kind === 'server');
    expect(servers.map((s) => [s.service, s.startMs, s.durationMs, s.selfMs])).toEqual([
      ['gateway', 0, 100, 10],
      ['order', 6, 88, 28],
      ['pricing', 11, 58, 18],
      ['tax', 21, 38, 38],
    ]);
    expect(path!.segments.some((s) => s.service === 'inventory')).toBe(false);
  });

  it('keeps the critical path right when one host’s clock is far off', () => {
    const skewed = computeCriticalPath(checkoutFanOut({ taxSkewMs: -200 }).events);
    expect(skewed!.skewAdjusted).toBe(true);
    expect(contributions(skewed)).toEqual({ tax: 38, order: 30, pricing: 20, gateway: 12 });
    expect(skewed!.biggestContributor).toBe('tax');
    const tax = skewed!.segments.find((s) => s.service === 'tax' && s.kind === 'server');
    expect(tax?.startMs).toBeCloseTo(21, 6);
    const ahead = computeCriticalPath(checkoutFanOut({ taxSkewMs: 350 }).events);
    expect(contributions(ahead)).toEqual({ tax: 38, order: 30, pricing: 20, gateway: 12 });
  });

  it('clips a call that outlives its caller to the caller’s span', () => {
    const path = computeCriticalPath(checkoutFanOut({ outlivingAudit: true }).events);
    expect(path!.totalMs).toBe(100);
    const audit = path!.segments.find((s) => s.service === 'audit');
    expect(audit?.durationMs).toBe(2);
    expect(contributions(path)).toEqual({ tax: 38, order: 30, pricing: 20, gateway: 10, audit: 2 });
  });

  it('attributes a call nobody answered to the callee’s host', () => {
    const sim = new TraceSimulator();
    const api = sim.service('api');
    const root = sim.request(api);
    sim.at(2);
    const call = root.call('payments.example.com:443', { method: 'POST', path: '/charge' });
    sim.at(42);
    call.receive({ status: 200 });
    sim.at(50);
    root.respond();
    const path = computeCriticalPath(sim.events);
    expect(path!.services).toEqual([
      { service: 'payments.example.com:443', ms: 40, percent: 80, uninstrumented: true },
      { service: 'api', ms: 10, percent: 20 },
    ]);
    expect(path!.biggestContributor).toBe('payments.example.com:443');
  });

  it('returns null without spans, and survives a trace with only part of its spans', () => {
    expect(computeCriticalPath([])).toBeNull();
    const { events } = checkoutFanOut();
    // Drop the root's response: the root ends at its last known event.
    const partial = events.filter((e) => !(e.kind === 'response_sent' && e.service === 'gateway'));
    const path = computeCriticalPath(partial);
    expect(path!.totalMs).toBe(95);
    expect(path!.biggestContributor).toBe('tax');
  });

  it('walks a deep chain of 20000 spans without recursion', () => {
    const sim = new TraceSimulator({ autoAdvanceUs: 10, maxClockEntries: 64 });
    const svc = sim.service('chain');
    let ctx = sim.request(svc);
    const calls = [];
    for (let i = 0; i < 10_000; i++) {
      const call = ctx.call(svc);
      calls.push({ call, ctx });
      ctx = call.serve();
    }
    for (let i = calls.length - 1; i >= 0; i--) {
      ctx.respond();
      calls[i]!.call.receive();
      ctx = calls[i]!.ctx;
    }
    ctx.respond();
    const path = computeCriticalPath(sim.events);
    expect(path!.segments).toHaveLength(20_001);
    expect(path!.services.map((s) => s.service)).toEqual(['chain']);
  });
});
