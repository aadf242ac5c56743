import { EventEmitter } from 'node:events';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { decodeClock } from '../clock/codec.js';
import { getCurrentContext } from '../context/async-context.js';
import { Tracer } from '../context/tracer.js';
import type { RacewayEvent } from '../events.js';
import { createServerLifecycle, type ServerLifecycle, serverSpanOf } from './server-lifecycle.js';

let server: Server | undefined;
afterEach(async () => {
  const running = server;
  server = undefined;
  if (running === undefined) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

/** A node:http server whose every request goes through the lifecycle, then `handle`. */
async function serve(
  lifecycle: ServerLifecycle,
  handle: (res: ServerResponse) => void = (res) => res.end('ok'),
): Promise<string> {
  server = createServer((req, res) => {
    const span = lifecycle.start({ request: req, response: res, getRoute: () => '/things/:id' });
    if (span === undefined) handle(res);
    else span.run(() => handle(res));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(url: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

const kinds = (events: RacewayEvent[]) => events.map((e) => e.kind);

describe('server lifecycle', () => {
  it('records both events and returns the response_sent clock on the response', async () => {
    const { tracer, events } = recordingTracer('api');
    const url = await serve(createServerLifecycle(tracer));
    const response = await get(`${url}/things/1?x=1`);
    await vi.waitFor(() => expect(kinds(events)).toEqual(['request_received', 'response_sent']));
    const [received, sent] = events as [
      RacewayEvent<'request_received'>,
      RacewayEvent<'response_sent'>,
    ];
    expect(received.data).toEqual({
      method: 'GET',
      path: '/things/1',
      incoming: { status: 'absent', reasons: [] },
    });
    expect(sent.data).toMatchObject({ method: 'GET', route: '/things/:id', status: 200 });
    expect(response.headers['x-raceway-trace-id']).toBe(sent.trace_id);
    const clock = decodeClock(String(response.headers['x-raceway-vc']));
    expect(clock.ok && clock.clock.toJSON()).toEqual(sent.clock);
  });

  it('leaves ignored paths and disabled tracers alone', async () => {
    const { tracer, events } = recordingTracer('api', { ignorePaths: ['/skip'] });
    const lifecycle = createServerLifecycle(tracer);
    const url = await serve(lifecycle);
    const skipped = await get(`${url}/skip/deeper`);
    expect(skipped.headers['x-raceway-trace-id']).toBeUndefined();
    expect(events).toEqual([]);
    const disabled = createServerLifecycle(new Tracer({ disabled: true }, { env: {} }));
    expect(disabled.start({ request: { headers: {} }, response: {} as never })).toBeUndefined();
  });

  it('records a client that went away before the response as 499 with an error', async () => {
    const { tracer, events } = recordingTracer('api');
    let arrived!: () => void;
    const handled = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const url = await serve(createServerLifecycle(tracer), () => arrived());
    const req = request(`${url}/slow`).on('error', () => {});
    req.end();
    await handled;
    req.destroy();
    await vi.waitFor(() => expect(kinds(events)).toContain('response_sent'));
    const sent = events.find((e) => e.kind === 'response_sent') as RacewayEvent<'response_sent'>;
    expect(sent.data.status).toBe(499);
    expect(sent.data.error?.type).toBe('ConnectionClosed');
  });

  it('records an error once, as an event and on response_sent', async () => {
    const { tracer, events } = recordingTracer('api');
    const lifecycle = createServerLifecycle(tracer);
    const failure = new TypeError('bad');
    server = createServer((req, res) => {
      const span = lifecycle.start({ request: req, response: res });
      span?.recordError(failure);
      span?.recordError(failure);
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await vi.waitFor(() => expect(kinds(events)).toContain('response_sent'));
    expect(kinds(events)).toEqual(['request_received', 'error', 'response_sent']);
    expect(events[2]?.data).toMatchObject({
      status: 500,
      error: { type: 'TypeError', message: 'bad' },
    });
  });

  it('never breaks the request when recording fails', async () => {
    const { tracer } = recordingTracer('api');
    vi.spyOn(tracer, 'emit').mockImplementation(() => {
      throw new Error('broken transport');
    });
    let seen: unknown;
    const url = await serve(createServerLifecycle(tracer), (res) => {
      seen = getCurrentContext()?.traceId;
      res.end('ok');
    });
    const response = await get(`${url}/x`);
    expect(response.status).toBe(200);
    expect(response.headers['x-raceway-trace-id']).toBe(seen);
  });

  it("hooks request and response objects that are not node's own", () => {
    const { tracer, events } = recordingTracer('api');
    const request = Object.assign(new EventEmitter(), { method: 'GET', url: '/x', headers: {} });
    const headers: Record<string, string> = {};
    let written = 0;
    const response = Object.assign(new EventEmitter(), {
      statusCode: 204,
      headersSent: false,
      writableFinished: true,
      setHeader: (name: string, value: string) => {
        headers[name] = value;
      },
      writeHead: (_status?: number) => {
        written += 1;
      },
    });
    const span = createServerLifecycle(tracer).start({ request, response });
    expect(serverSpanOf(request)).toBe(span);
    let seen: unknown;
    request.on('data', () => {
      seen = getCurrentContext();
    });
    request.emit('data');
    expect(seen).toBe(span?.context);
    response.writeHead(204);
    expect(written).toBe(1);
    expect(headers['X-Raceway-Trace-Id']).toBe(span?.context.traceId);
    response.emit('close');
    const sent = events.find((e) => e.kind === 'response_sent') as RacewayEvent<'response_sent'>;
    expect(sent.data.status).toBe(204);
    const clock = decodeClock(headers['X-Raceway-VC'] ?? '');
    expect(clock.ok && clock.clock.toJSON()).toEqual(sent.clock);
  });
});
