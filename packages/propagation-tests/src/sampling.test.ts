// Sampling over real HTTP (spec 5): a caller's decision is honoured and propagated, unsampled
// requests record nothing, a chain of services with different rates decides alike at every hop,
// and a root rate samples its share of traces.

import type { RacewayOptions } from '@raceway/core';
import { newTraceId, rootSampler } from '@raceway/core/integration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ContextSnapshot,
  flushServices,
  LATEST,
  type RunningServer,
  send,
  serviceOptions,
  traceEvents,
  uniqueService,
  useTestCollector,
} from './fixtures/index.js';

const collector = useTestCollector({ clients: true });

interface UserBody {
  context: ContextSnapshot;
  received: Record<string, number>;
  traceparent: string | null;
}
interface CallBody<D> {
  context: ContextSnapshot;
  downstream: D;
}

const UPSTREAM_SPAN = '00f067aa0ba902b7';
const callUrl = (from: RunningServer, to: string, client: string) =>
  `${from.url}/call?to=${encodeURIComponent(to)}&client=${client}`;

// Caller, callee and client rotate so that every framework is on each side once.
const pairs = LATEST.map((caller, i) => ({
  caller,
  callee: LATEST[(i + 1) % LATEST.length]!,
  client: i % 2 === 0 ? 'fetch' : 'axios',
}));

describe.each(pairs)('$caller.name -> $callee.name via $client', ({ caller, callee, client }) => {
  let a: RunningServer;
  let b: RunningServer;
  let aOptions: RacewayOptions;
  let bOptions: RacewayOptions;
  beforeAll(async () => {
    aOptions = serviceOptions(collector, uniqueService(`sa-${caller.name}`));
    bOptions = serviceOptions(collector, uniqueService(`sb-${callee.name}`));
    b = await callee.start(bOptions);
    a = await caller.start(aOptions);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  async function callWithFlags(flags: string) {
    // A trace of its own per request: the collector stub is shared by every test.
    const traceId = newTraceId();
    const response = await send(callUrl(a, `${b.url}/users/5`, client), {
      headers: { traceparent: `00-${traceId}-${UPSTREAM_SPAN}-${flags}` },
    });
    expect(response.status).toBe(200);
    return { response, traceId };
  }

  it('an upstream 00 records nothing anywhere and is propagated as 00', async () => {
    const { response, traceId } = await callWithFlags('00');
    // The caller answers with the trace id only: no clock for an unsampled request.
    expect(response.headers['x-raceway-trace-id']).toBe(traceId);
    expect(response.headers['x-raceway-vc']).toBeUndefined();
    const body = response.json<CallBody<UserBody>>();
    expect(body.context).toMatchObject({ traceId, traceFlags: '00' });
    expect(body.downstream.context).toMatchObject({ traceId, traceFlags: '00' });
    expect(body.downstream.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    expect(body.downstream.traceparent).not.toContain(UPSTREAM_SPAN);
    expect(body.downstream.received).toEqual({
      'x-raceway-trace-id': 1,
      'x-raceway-vc': 0,
      traceparent: 1,
      tracestate: 0,
    });
    await flushServices([aOptions, bOptions]);
    expect(collector.trace(traceId)).toEqual([]);
  });

  it('an upstream 01 is recorded by both services, and the same request with 00 is not', async () => {
    const sampled = await callWithFlags('01');
    const unsampled = await callWithFlags('00');
    const events = await traceEvents(
      collector,
      [aOptions, bOptions],
      sampled.traceId,
      (all) => all.filter((e) => e.kind === 'response_sent').length === 2,
    );
    expect(new Set(events.map((e) => e.service))).toEqual(
      new Set([aOptions.serviceName, bOptions.serviceName]),
    );
    const body = sampled.response.json<CallBody<UserBody>>();
    expect(body.downstream.traceparent).toMatch(/-01$/);
    expect(body.downstream.received['x-raceway-vc']).toBe(1);
    expect(collector.trace(unsampled.traceId)).toEqual([]);
  });

  it('keeps the random flag of an upstream 02 and 03', async () => {
    for (const flags of ['02', '03']) {
      const { response } = await callWithFlags(flags);
      const body = response.json<CallBody<UserBody>>();
      expect(body.downstream.context.traceFlags).toBe(flags);
      expect(body.downstream.traceparent).toMatch(new RegExp(`-${flags}$`));
    }
  });
});

describe('a chain of services with different rates', () => {
  let services: RunningServer[];
  let options: RacewayOptions[];
  const rates = [0.5, 0, 1];
  beforeAll(async () => {
    options = rates.map((sampleRate, i) =>
      serviceOptions(collector, uniqueService(`chain${i}`), { sampleRate }),
    );
    services = await Promise.all(options.map((o, i) => LATEST[i % LATEST.length]!.start(o)));
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
  });

  async function throughChain(headers: Record<string, string> = {}) {
    const [first, second, third] = services as [RunningServer, RunningServer, RunningServer];
    const inner = callUrl(second, `${third.url}/users/7`, 'axios');
    const response = await send(callUrl(first, inner, 'fetch'), { headers });
    expect(response.status).toBe(200);
    const body = response.json<CallBody<CallBody<UserBody>>>();
    return [body.context, body.downstream.context, body.downstream.downstream.context];
  }

  it('the root decides from the trace id; every hop keeps the decision, whatever its own rate', async () => {
    const sample = rootSampler(0.5);
    const seen = { sampled: 0, unsampled: 0 };
    for (let i = 0; i < 16; i++) {
      const contexts = await throughChain();
      const traceId = String(contexts[0]?.traceId);
      const expected = sample(traceId) ? '03' : '02';
      expect(contexts.map((c) => [c.traceId, c.traceFlags])).toEqual(
        contexts.map(() => [traceId, expected]),
      );
      seen[expected === '03' ? 'sampled' : 'unsampled'] += 1;
      await flushServices(options);
      const recordedBy = new Set(collector.trace(traceId).map((e) => e.service));
      // All three services record a sampled trace (the middle one's rate 0 is not asked), none
      // an unsampled one (the last one's rate 1 is not asked either).
      expect(recordedBy.size).toBe(expected === '03' ? 3 : 0);
    }
    // 16 random ids at rate 0.5: both outcomes, or the test proved nothing (odds 2^-15).
    expect(seen.sampled).toBeGreaterThan(0);
    expect(seen.unsampled).toBeGreaterThan(0);
  });

  it('a trace joined through X-Raceway-Trace-Id alone is decided by the first hop, random flag unset', async () => {
    // Ids whose decision at rate 0.5 is known: R = 2^55 - 1 (no) and R = 2^55 (yes).
    const no = `${'a'.repeat(18)}7fffffffffffff`;
    const yes = `${'a'.repeat(18)}80000000000000`;
    const unsampled = await throughChain({ 'X-Raceway-Trace-Id': no });
    const sampled = await throughChain({ 'X-Raceway-Trace-Id': yes });
    expect(unsampled.map((c) => c.traceFlags)).toEqual(['00', '00', '00']);
    expect(sampled.map((c) => c.traceFlags)).toEqual(['01', '01', '01']);
  });
});

describe('a root rate of 0.25', () => {
  let server: RunningServer;
  let options: RacewayOptions;
  beforeAll(async () => {
    options = serviceOptions(collector, uniqueService('rate'), { sampleRate: 0.25 });
    server = await LATEST[0]!.start(options);
  });
  afterAll(() => server.close());

  it('samples 25% of 4,000 roots, within 3 points, and records exactly those', async () => {
    const roots = 4000;
    const flags: string[] = [];
    const traceIds: string[] = [];
    // 16 requests at a time over keep-alive-free node:http: a few seconds in all.
    for (let i = 0; i < roots; i += 16) {
      const batch = await Promise.all(
        Array.from({ length: 16 }, () => send(`${server.url}/users/1`)),
      );
      for (const response of batch) {
        const body = response.json<UserBody>();
        flags.push(String(body.context.traceFlags));
        traceIds.push(String(body.context.traceId));
      }
    }
    const sampled = flags.filter((f) => f === '03').length;
    expect(flags.filter((f) => f !== '03' && f !== '02')).toEqual([]);
    expect(Math.abs(sampled / roots - 0.25)).toBeLessThanOrEqual(0.03);
    await flushServices([options]);
    const recorded = new Set(
      collector.events.filter((e) => e.service === options.serviceName).map((e) => e.trace_id),
    );
    expect(recorded.size).toBe(sampled);
    for (const [i, traceId] of traceIds.entries()) {
      expect(recorded.has(traceId)).toBe(flags[i] === '03');
    }
  }, 60_000);

  it('the decision is the pure function of the id: 25% of 4,000 ids the SDK draws', () => {
    const sample = rootSampler(0.25);
    let sampled = 0;
    for (let i = 0; i < 4000; i++) if (sample(newTraceId())) sampled += 1;
    expect(Math.abs(sampled / 4000 - 0.25)).toBeLessThanOrEqual(0.03);
  });
});
