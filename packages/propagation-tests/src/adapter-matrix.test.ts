// One suite, run unchanged against every framework major: the adapters must behave the same.
import type { RacewayOptions } from '@raceway/core';
import { decodeClock, VectorClock } from '@raceway/core/integration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADAPTERS,
  type ContextSnapshot,
  type RunningServer,
  type SentResponse,
  send,
  serviceOptions,
  single,
  traceEvents,
  uniqueService,
  useTestCollector,
} from './fixtures/index.js';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const CALLER_COMPONENT = 'caller#0a1b2c3d';

const collector = useTestCollector();

describe.each(ADAPTERS)('$name adapter', (adapter) => {
  let server: RunningServer;
  let options: RacewayOptions;

  beforeAll(async () => {
    options = serviceOptions(collector, uniqueService(adapter.name));
    server = await adapter.start(options);
  });
  afterAll(async () => {
    await server.close();
  });

  const traceIdOf = (response: SentResponse) => String(response.headers['x-raceway-trace-id']);
  const finished = (events: { kind: string }[]) => events.some((e) => e.kind === 'response_sent');
  const eventsOf = (traceId: string) => traceEvents(collector, [options], traceId, finished);

  it('starts a trace, records both server events and returns the response_sent clock', async () => {
    const response = await send(`${server.url}/users/7?expand=1`);
    expect(response.status).toBe(200);
    const traceId = traceIdOf(response);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const body = response.json<{ id: string; context: ContextSnapshot }>();
    expect(body.id).toBe('7');
    expect(body.context.traceId).toBe(traceId);

    const events = await eventsOf(traceId);
    const received = single(events, 'request_received');
    const sent = single(events, 'response_sent');
    expect(received.data).toMatchObject({
      method: 'GET',
      path: '/users/7',
      incoming: { status: 'absent', reasons: [] },
    });
    expect(received.parent_span_id).toBeNull();
    expect(received.span_id).toBe(body.context.spanId);
    expect(sent.data).toMatchObject({ method: 'GET', route: '/users/:id', status: 200 });
    expect(sent.data.duration_ms).toBeGreaterThanOrEqual(0);
    // The response header is the clock of response_sent (spec 2.6): request_received 1, response_sent 2.
    const header = decodeClock(String(response.headers['x-raceway-vc']));
    expect(header.ok && header.clock.toJSON()).toEqual(sent.clock);
    expect(sent.clock).toEqual({ [String(body.context.component)]: 2 });
  });

  it('joins the caller trace: trace id, parent span and clock', async () => {
    const response = await send(`${server.url}/users/8`, {
      headers: {
        'X-Raceway-Trace-Id': CALLER_TRACE,
        'X-Raceway-VC': `{"${CALLER_COMPONENT}":3}`,
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
      },
    });
    expect(response.status).toBe(200);
    expect(traceIdOf(response)).toBe(CALLER_TRACE);
    const body = response.json<{ context: ContextSnapshot }>();
    expect(body.context.traceId).toBe(CALLER_TRACE);

    const events = (await eventsOf(CALLER_TRACE)).filter((e) => e.service === options.serviceName);
    const received = events.find(
      (e) => e.kind === 'request_received' && e.span_id === body.context.spanId,
    );
    expect(received?.parent_span_id).toBe(CALLER_SPAN);
    expect(received?.data).toMatchObject({ incoming: { status: 'accepted', reasons: [] } });
    const own = String(body.context.component);
    expect(received?.clock).toEqual({ [CALLER_COMPONENT]: 3, [own]: 1 });
    const header = decodeClock(String(response.headers['x-raceway-vc']));
    expect(header.ok && header.clock.toJSON()).toEqual({ [CALLER_COMPONENT]: 3, [own]: 2 });
  });

  it('does not trace ignorePaths (health checks)', async () => {
    const before = collector.events.length;
    const response = await send(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers['x-raceway-trace-id']).toBeUndefined();
    expect(response.headers['x-raceway-vc']).toBeUndefined();
    // A traced request afterwards proves the flush happened; none of it is the health check.
    const traced = await send(`${server.url}/users/1`);
    await eventsOf(traceIdOf(traced));
    const healthEvents = collector.events
      .slice(before)
      .filter((e) => e.kind === 'request_received' && e.data.path === '/healthz');
    expect(healthEvents).toEqual([]);
  });

  it('keeps the context through body parsing, with the body arriving later', async () => {
    const payload = JSON.stringify({ order: 42 });
    const response = await send(`${server.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(payload.length) },
      body: payload,
      trickleMs: 15,
    });
    expect(response.status).toBe(200);
    const body = response.json<{ body: unknown; context: ContextSnapshot }>();
    expect(body.body).toEqual({ order: 42 });
    expect(body.context.traceId).toBe(traceIdOf(response));
  });

  it('keeps the context in request stream listeners (a handler reading the body itself)', async () => {
    const response = await send(`${server.url}/raw`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': '11' },
      body: 'hello world',
      trickleMs: 15,
    });
    expect(response.status).toBe(200);
    const traceId = traceIdOf(response);
    const body = response.json<{ size: number; seen: string[]; end: string }>();
    expect(body.size).toBe(11);
    expect(body.seen.length).toBeGreaterThanOrEqual(1);
    for (const seen of body.seen) expect(seen).toBe(traceId);
    expect(body.end).toBe(traceId);
  });

  it('keeps the context in timers and after the handler (framework hooks, upstream)', async () => {
    const response = await send(`${server.url}/timer`);
    expect(response.status).toBe(200);
    const traceId = traceIdOf(response);
    expect(response.json<{ context: ContextSnapshot }>().context.traceId).toBe(traceId);
    expect(response.headers['x-upstream-trace-id']).toBe(traceId);
  });

  it('keeps one context across a Promise.all fan-out', async () => {
    const response = await send(`${server.url}/fanout`);
    const traceId = traceIdOf(response);
    const { contexts } = response.json<{ contexts: ContextSnapshot[] }>();
    expect(contexts).toHaveLength(3);
    for (const ctx of contexts) expect(ctx).toEqual(contexts[0]);
    expect(contexts[0]?.traceId).toBe(traceId);
    const events = await eventsOf(traceId);
    expect(events.filter((e) => e.kind === 'custom')).toHaveLength(3);
    const sent = single(events, 'response_sent');
    // The fan-out's events happen before the response (one context, one counter).
    for (const task of events.filter((e) => e.kind === 'custom')) {
      expect(new VectorClock(task.clock).compare(sent.clock)).toBe('before');
    }
  });

  it('keeps the context while streaming, and sets the headers before the first chunk', async () => {
    const response = await send(`${server.url}/stream`);
    expect(response.status).toBe(200);
    const traceId = traceIdOf(response);
    const lines = response.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ContextSnapshot);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.traceId).toBe(traceId);
    const events = await eventsOf(traceId);
    const sent = single(events, 'response_sent');
    expect(sent.data).toMatchObject({ route: '/stream', status: 200 });
    expect(sent.data.error).toBeUndefined();
    const header = decodeClock(String(response.headers['x-raceway-vc']));
    expect(header.ok && header.clock.toJSON()).toEqual(sent.clock);
  });

  it.each([
    ['/boom', 'boom'],
    ['/async-boom', 'async boom'],
  ])('records an error thrown by the handler (%s)', async (path, message) => {
    const response = await send(`${server.url}${path}`);
    expect(response.status).toBe(500);
    const traceId = traceIdOf(response);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const events = await eventsOf(traceId);
    const error = single(events, 'error');
    expect(error.data).toMatchObject({ type: 'Error', message });
    const sent = single(events, 'response_sent');
    expect(sent.data).toMatchObject({ status: 500, route: path, error: { message } });
  });

  it('records a 404 without a route template', async () => {
    const response = await send(`${server.url}/nowhere`);
    expect(response.status).toBe(404);
    const sent = single(await eventsOf(traceIdOf(response)), 'response_sent');
    expect(sent.data.status).toBe(404);
    expect(sent.data.route ?? null).toBeNull();
  });

  describe('bad incoming context: served, fresh trace, rejection recorded', () => {
    it.each([
      ['a malformed trace id', { 'X-Raceway-Trace-Id': 'not-a-trace-id' }, ['trace_id_invalid']],
      [
        'a malformed traceparent',
        { traceparent: '00-zzzz-00f067aa0ba902b7-01' },
        ['traceparent_invalid'],
      ],
      [
        'conflicting duplicated trace ids',
        { 'X-Raceway-Trace-Id': [CALLER_TRACE, '0af7651916cd43dd8448eb211c80319c'] },
        ['duplicate_conflict'],
      ],
      ['an oversized trace id', { 'X-Raceway-Trace-Id': 'a'.repeat(6000) }, ['trace_id_invalid']],
    ] as const)('%s', async (_label, headers, reasons) => {
      const response = await send(`${server.url}/users/9`, {
        headers: headers as Record<string, string | string[]>,
      });
      expect(response.status).toBe(200);
      const traceId = traceIdOf(response);
      expect(traceId).not.toBe(CALLER_TRACE);
      expect(response.json<{ context: ContextSnapshot }>().context.traceId).toBe(traceId);
      const received = single(await eventsOf(traceId), 'request_received');
      expect(received.parent_span_id).toBeNull();
      expect(received.data.incoming).toEqual({ status: 'rejected', reasons: [...reasons] });
    });

    it('an oversized clock on a valid trace: joined without the clock', async () => {
      const entries = Array.from(
        { length: 400 },
        (_, i) => `"svc#${String(i).padStart(8, '0')}":1`,
      );
      const response = await send(`${server.url}/users/10`, {
        headers: { 'X-Raceway-Trace-Id': CALLER_TRACE, 'X-Raceway-VC': `{${entries.join(',')}}` },
      });
      expect(response.status).toBe(200);
      expect(traceIdOf(response)).toBe(CALLER_TRACE);
      const { context } = response.json<{ context: ContextSnapshot }>();
      const events = await eventsOf(CALLER_TRACE);
      const received = events.find(
        (e) => e.kind === 'request_received' && e.span_id === context.spanId,
      );
      expect(received?.data).toMatchObject({
        incoming: { status: 'degraded', reasons: ['vc_oversized'] },
      });
      expect(received?.clock).toEqual({ [String(context.component)]: 1 });
    });
  });
});
