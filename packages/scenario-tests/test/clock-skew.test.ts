// A host whose clock is off by 80 ms, ahead or behind: its events reach the collector through a
// proxy that moves every timestamp by that much, as that host would have written them.
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  allSpans,
  callService,
  rootRequest,
  startScenario,
  startSkewProxy,
} from '../src/fixtures/index.js';

describe.each([80, -80])('a host %i ms off', (skewMs) => {
  it('estimates the skew of a host from its calls and still finds the right critical path', async () => {
    const s = await startScenario();
    onTestFinished(() => s.close());
    const proxy = await startSkewProxy(s.collector.url, skewMs);
    s.defer(proxy.close);

    // gateway (Koa) -> pricing (Fastify, skewed host, 60 ms of its own) -> db (Express, 10 ms).
    // Pricing's share is far above what a busy machine adds to the others.
    const db = await s.service({
      name: 'db',
      framework: 'express',
      routes: { '/query': () => delay(10).then(() => ({ rows: 1 })) },
    });
    const pricing = await s.service({
      name: 'pricing',
      framework: 'fastify',
      serverUrl: proxy.url,
      routes: {
        '/price': async () => {
          await delay(60);
          return callService('fetch', `${db.url}/query`);
        },
      },
    });
    const gateway = await s.service({
      name: 'gateway',
      framework: 'koa',
      routes: {
        '/price': async () => {
          await delay(3);
          return callService('axios', `${pricing.url}/price`);
        },
      },
    });

    const { traceId } = await rootRequest(`${gateway.url}/price`);
    const [trace] = await s.settle([traceId], { serverSpans: 3 });
    expect(proxy.shifted).toBeGreaterThan(0);

    // As stored, the skewed host contradicts happens-before: ahead, it answered long after its
    // answer had arrived; behind, it received the call long before it was sent.
    const spans = allSpans(trace!);
    const call = spans.find((x) => x.kind === 'client' && x.service === 'gateway')!;
    const served = spans.find((x) => x.kind === 'server' && x.service === 'pricing')!;
    const contradictionUs =
      skewMs > 0
        ? served.start_us + served.duration_ms * 1000 - (call.start_us + call.duration_ms * 1000)
        : call.start_us - served.start_us;
    expect(contradictionUs).toBeGreaterThan(Math.abs(skewMs) * 0.5 * 1000);

    // The skew, from both sides of the skewed host: off one way from its caller, and its callee
    // off the other way from it.
    const { diagnostics } = await s.api.traceDiagnostics(traceId);
    const skew = diagnostics!.clockSkew;
    const fromCaller = skew.find(
      (x) => x.callerService === 'gateway' && x.calleeService === 'pricing',
    );
    const toCallee = skew.find((x) => x.callerService === 'pricing' && x.calleeService === 'db');
    expect(fromCaller).toMatchObject({
      callerInstance: 'gateway-host',
      calleeInstance: 'pricing-host',
    });
    expect(toCallee).toMatchObject({ callerInstance: 'pricing-host', calleeInstance: 'db-host' });
    expect(Math.abs(fromCaller!.offsetMs - skewMs)).toBeLessThan(Math.abs(skewMs) * 0.25);
    expect(Math.abs(toCallee!.offsetMs + skewMs)).toBeLessThan(Math.abs(skewMs) * 0.25);
    expect(skew).toHaveLength(2);

    // The critical path puts the skewed span back inside its call: pricing's 60 ms lead.
    const { critical_path: path } = await s.api.criticalPath(traceId);
    expect(path!.skewAdjusted).toBe(true);
    expect([...new Set(path!.segments.map((x) => x.service))]).toEqual([
      'gateway',
      'pricing',
      'db',
    ]);
    expect(path!.biggestContributor).toBe('pricing');
    expect(path!.services.find((x) => x.service === 'pricing')!.ms).toBeGreaterThanOrEqual(55);
    for (const section of path!.sections) {
      expect(section.startMs).toBeGreaterThanOrEqual(0);
      expect(section.startMs + section.durationMs).toBeLessThanOrEqual(path!.totalMs + 0.001);
    }
  });
});
