// The client instrumentations on their own: calls made from a context the test starts itself.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { instrumentAxios } from '@raceway/axios';
import { type ExecutionContext, type RacewayOptions, runInContext, Tracer } from '@raceway/core';
import { instrumentFetch, uninstrumentFetch, wrapFetch } from '@raceway/fetch';
import axios from 'axios';
import { Agent, fetch as undiciFetch, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adapter,
  type ClientName,
  type ContextSnapshot,
  callDownstream,
  http,
  ofKind,
  order,
  type RunningServer,
  serviceOptions,
  single,
  traceEvents,
  uniqueService,
  useTestCollector,
} from './fixtures/index.js';

type UserResponse = { context: ContextSnapshot; received: Record<string, number> };
const NO_HEADERS = { 'x-raceway-trace-id': 0, 'x-raceway-vc': 0, traceparent: 0, tracestate: 0 };
const ONE_OF_EACH = { 'x-raceway-trace-id': 1, 'x-raceway-vc': 1, traceparent: 1, tracestate: 0 };
const ALL_CLIENTS: ClientName[] = ['fetch', 'axios', 'undici'];

const collector = useTestCollector({ clients: true });
let callee: RunningServer;
let calleeOptions: RacewayOptions;
let callerOptions: RacewayOptions;

beforeAll(async () => {
  calleeOptions = serviceOptions(collector, uniqueService('callee'));
  callerOptions = serviceOptions(collector, uniqueService('caller'));
  callee = await adapter('express5').start(calleeOptions);
});
afterAll(async () => {
  await callee.close();
});

/** Runs `fn` in a fresh context of the caller service. */
function inContext<T>(fn: (ctx: ExecutionContext) => Promise<T>): Promise<T> {
  const ctx = Tracer.fromOptions(callerOptions).startContext({});
  return runInContext(ctx, () => fn(ctx));
}

const callerEvents = (traceId: string, calls: number) =>
  traceEvents(
    collector,
    [callerOptions, calleeOptions],
    traceId,
    (events) => events.filter((e) => e.kind === 'response_received').length >= calls,
  );

describe.each(ALL_CLIENTS)('%s', (client) => {
  it('leaves calls made outside any context untouched', async () => {
    const body = (await callDownstream(client, `${callee.url}/users/1`)) as UserResponse;
    expect(body.received).toEqual(NO_HEADERS);
  });

  it('replaces trace headers the application set itself (one copy, the right values)', async () => {
    const bogus = {
      'X-RACEWAY-TRACE-ID': '0af7651916cd43dd8448eb211c80319c',
      'x-raceway-vc': '{"bogus#00000000":9}',
      TraceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    };
    const url = `${callee.url}/users/2`;
    const { ctx, body } = await inContext(async (ctx) => {
      let result: unknown;
      if (client === 'fetch') result = await (await fetch(url, { headers: bogus })).json();
      else if (client === 'axios') result = (await http.get(url, { headers: bogus })).data;
      else result = await (await undiciRequest(url, { headers: bogus })).body.json();
      return { ctx, body: result as UserResponse };
    });
    expect(body.received).toEqual(ONE_OF_EACH);
    expect(body.context.traceId).toBe(ctx.traceId);
    const events = await callerEvents(ctx.traceId, 1);
    const sent = single(events, 'request_sent', callerOptions.serviceName);
    const joined = single(events, 'request_received', calleeOptions.serviceName);
    expect(joined.parent_span_id).toBe(sent.span_id);
    expect(joined.clock).not.toHaveProperty('bogus#00000000');
  });

  it('records a network error', async () => {
    // A port that was just free: nothing listens there.
    const closed = await adapter('express5').start(
      serviceOptions(collector, uniqueService('gone')),
    );
    const url = `${closed.url}/users/1`;
    await closed.close();
    const ctx = await inContext(async (ctx) => {
      await expect(callDownstream(client, url)).rejects.toBeTruthy();
      return ctx;
    });
    const events = await callerEvents(ctx.traceId, 1);
    const failed = single(events, 'response_received');
    expect(failed.data.status).toBeUndefined();
    expect(failed.data.error?.message).toBeTruthy();
    expect(failed.data.remote_clock).toBe(false);
  });
});

describe.each(['fetch', 'undici'] as const)(
  '%s: the response as the application gets it',
  (client) => {
    /** The response of `url` with its body left for the test to read or not. */
    const respond = async (url: string) => {
      if (client === 'fetch') {
        const response = await fetch(url);
        return { status: response.status, body: () => response.text() };
      }
      const response = await undiciRequest(url);
      return { status: response.statusCode, body: () => response.body.text() };
    };

    // An uninstrumented peer that sends its headers and part of a body, then either keeps the
    // body open (/stream) or drops the connection (/broken).
    let peer: Server;
    let peerUrl: string;
    beforeAll(async () => {
      peer = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('only part of it', () => {
          if (req.url === '/broken') res.socket?.destroy();
        });
      });
      await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
      peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      peer.closeAllConnections();
      await new Promise<void>((resolve) => peer.close(() => resolve()));
    });

    it('records response_received when the headers arrive, for a body that never ends', async () => {
      const ctx = await inContext(async (ctx) => {
        const response = await respond(`${peerUrl}/stream`);
        expect(response.status).toBe(200);
        return ctx;
      });
      const events = await traceEvents(collector, [callerOptions], ctx.traceId, (all) =>
        all.some((e) => e.kind === 'response_received'),
      );
      expect(single(events, 'response_received').data).toMatchObject({
        status: 200,
        remote_clock: false,
      });
    });

    it("records a body that breaks off as an error in the call's span", async () => {
      const ctx = await inContext(async (ctx) => {
        const response = await respond(`${peerUrl}/broken`);
        await expect(response.body()).rejects.toBeTruthy();
        return ctx;
      });
      const events = await traceEvents(collector, [callerOptions], ctx.traceId, (all) =>
        all.some((e) => e.kind === 'error'),
      );
      const received = single(events, 'response_received');
      expect(received.data).toMatchObject({ status: 200, remote_clock: false });
      expect(received.data.error).toBeUndefined();
      const broken = single(events, 'error');
      expect(broken.span_id).toBe(received.span_id);
      expect(broken.parent_span_id).toBe(ctx.spanId);
      expect(order(received, broken)).toBe('before');
    });
  },
);

describe('propagateTo', () => {
  // A public host name that resolves to the callee on loopback: no packet leaves the machine.
  // biome-ignore lint/suspicious/noExplicitAny: net's and axios' lookup types differ; both call it alike.
  const lookup: any = (
    _host: string,
    options: { all?: boolean },
    callback: (error: null, address: unknown, family?: number) => void,
  ) => {
    if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };
  const publicUrl = () => `http://api.example.com:${new URL(callee.url).port}/users/4`;

  it.each(['undici', 'axios'] as const)(
    'sends no trace headers to a public host by default (%s), records the call',
    async (client) => {
      const { ctx, body } = await inContext(async (ctx) => {
        let result: unknown;
        if (client === 'undici') {
          const dispatcher = new Agent({ connect: { lookup } });
          result = await (await undiciFetch(publicUrl(), { dispatcher })).json();
          await dispatcher.close();
        } else {
          result = (await http.get(publicUrl(), { lookup })).data;
        }
        return { ctx, body: result as UserResponse };
      });
      expect(body.received).toEqual(NO_HEADERS);
      // The callee started a trace of its own.
      expect(body.context.traceId).not.toBe(ctx.traceId);
      const events = await callerEvents(ctx.traceId, 1);
      const sent = single(events, 'request_sent');
      expect(sent.data.host).toBe(`api.example.com:${new URL(callee.url).port}`);
      const back = single(events, 'response_received');
      expect(back.data).toMatchObject({ status: 200, remote_clock: false });
    },
  );

  it('follows the option given to the instrumentation over the tracer default', async () => {
    const own = axios.create();
    instrumentAxios(own, { propagateTo: ['inventory.internal'] });
    const body = await inContext(async () => (await own.get(`${callee.url}/users/5`)).data);
    expect((body as UserResponse).received).toEqual(NO_HEADERS);
  });
});

describe('fetch instrumentation', () => {
  it('traces a call once when wrapFetch and instrumentFetch are both in place', async () => {
    const wrapped = wrapFetch(fetch);
    const { ctx, body } = await inContext(async (ctx) => {
      const response = await wrapped(`${callee.url}/users/6`);
      return { ctx, body: (await response.json()) as UserResponse };
    });
    expect(body.received).toEqual(ONE_OF_EACH);
    const events = await callerEvents(ctx.traceId, 1);
    expect(ofKind(events, 'request_sent')).toHaveLength(1);
    expect(single(events, 'response_received').data).toMatchObject({
      status: 200,
      remote_clock: true,
    });
  });

  it('wrapFetch traces a fetch implementation that bypasses undici', async () => {
    const seen: Headers[] = [];
    const fake = async (
      _input: string,
      init?: { headers?: ConstructorParameters<typeof Headers>[0] },
    ) => {
      seen.push(new Headers(init?.headers));
      return new Response('{}', { status: 201 });
    };
    const wrapped = wrapFetch(fake);
    const ctx = await inContext(async (ctx) => {
      await wrapped('http://inventory/items/1', { headers: { traceparent: 'stale' } });
      return ctx;
    });
    expect(seen[0]?.get('x-raceway-trace-id')).toBe(ctx.traceId);
    expect(seen[0]?.get('traceparent')).toMatch(
      new RegExp(`^00-${ctx.traceId}-[0-9a-f]{16}-${ctx.traceFlags}$`),
    );
    const events = await callerEvents(ctx.traceId, 1);
    expect(single(events, 'response_received').data).toMatchObject({
      url: 'http://inventory/items/1',
      status: 201,
      remote_clock: false,
    });
  });

  it('uninstrumentFetch stops injecting; instrumentFetch brings it back', async () => {
    try {
      uninstrumentFetch();
      const off = await inContext(async () => (await fetch(`${callee.url}/users/7`)).json());
      expect((off as UserResponse).received).toEqual(NO_HEADERS);
    } finally {
      instrumentFetch();
    }
    const on = await inContext(async () => (await fetch(`${callee.url}/users/7`)).json());
    expect((on as UserResponse).received).toEqual(ONE_OF_EACH);
  });
});

describe('axios instrumentation', () => {
  it("traces a call once when axios' fetch adapter goes through instrumented fetch", async () => {
    const { ctx, body } = await inContext(async (ctx) => {
      const response = await http.get(`${callee.url}/users/11`, { adapter: 'fetch' });
      return { ctx, body: response.data as UserResponse };
    });
    expect(body.received).toEqual(ONE_OF_EACH);
    const events = await callerEvents(ctx.traceId, 1);
    const sent = single(events, 'request_sent', callerOptions.serviceName);
    expect(single(events, 'request_received', calleeOptions.serviceName).parent_span_id).toBe(
      sent.span_id,
    );
  });

  it('records the status of an error response and merges its clock', async () => {
    const ctx = await inContext(async (ctx) => {
      await expect(http.get(`${callee.url}/boom`)).rejects.toMatchObject({
        response: { status: 500 },
      });
      return ctx;
    });
    const events = await callerEvents(ctx.traceId, 1);
    expect(single(events, 'response_received').data).toMatchObject({
      status: 500,
      remote_clock: true,
    });
  });
});
