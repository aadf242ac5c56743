// A Hono service on @hono/node-server in a chain of services: joined by its caller's trace,
// routed by Hono's matched route, calling on with node:http (traced by @raceway/http).
import { instrumentHttp } from '@raceway/http';
import { send } from '@raceway/propagation-tests/fixtures/http-client.js';
import { expect, it, onTestFinished } from 'vitest';
import { allSpans, callService, rootRequest, startScenario } from '../src/fixtures/index.js';

/** A GET through node's own http client from the current context, returning the JSON body. */
async function viaNodeHttp(url: string): Promise<unknown> {
  const response = await send(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${response.body}`);
  return response.json();
}

it('a Hono service joins the trace, records its route, and its node:http calls are edges', async () => {
  instrumentHttp();
  const s = await startScenario();
  onTestFinished(() => s.close());

  const inventory = await s.service({
    name: 'inventory',
    framework: 'koa',
    routes: { '/stock': () => ({ left: 3 }) },
  });
  const users = await s.service({
    name: 'users',
    framework: 'hono',
    routes: {
      '/users/:id': async () => ({ user: 7, stock: await viaNodeHttp(`${inventory.url}/stock`) }),
    },
  });
  const gateway = await s.service({
    name: 'gateway',
    framework: 'express',
    routes: { '/profile': () => callService('fetch', `${users.url}/users/7`) },
  });

  const { traceId, body } = await rootRequest(`${gateway.url}/profile`);
  expect(body).toEqual({ user: 7, stock: { left: 3 } });
  const [trace] = await s.settle([traceId], { serverSpans: 3 });
  const spans = allSpans(trace!);
  const serverOf = (service: string) =>
    spans.find((x) => x.kind === 'server' && x.service === service);
  const clientOf = (service: string) =>
    spans.find((x) => x.kind === 'client' && x.service === service);

  // users (Hono) joined gateway's call, with Hono's route template.
  const hono = serverOf('users');
  expect(hono).toMatchObject({ route: '/users/:id', status: 200, parent_missing: false });
  expect(hono!.parent_span_id).toBe(clientOf('gateway')!.span_id);
  // users' node:http call was traced, and inventory joined it.
  const usersCall = clientOf('users');
  expect(usersCall).toMatchObject({ method: 'GET', status: 200 });
  expect(serverOf('inventory')!.parent_span_id).toBe(usersCall!.span_id);
  const received = usersCall!.events.find((e) => e.kind === 'response_received');
  expect(received!.data).toMatchObject({ remote_clock: true });

  const { edges } = await s.api.dependencies();
  expect(edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual([
    'gateway->users',
    'users->inventory',
  ]);
  const { diagnostics } = await s.api.traceDiagnostics(traceId);
  expect(diagnostics!.brokenChains).toEqual([]);
});

it('a Hono handler that throws: a 500 with the error recorded; an unmatched path: no route', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());
  const users = await s.service({
    name: 'users',
    framework: 'hono',
    routes: {
      '/users/:id': () => {
        throw new Error('users table is locked');
      },
    },
  });

  const failed = await send(`${users.url}/users/9`);
  expect(failed.status).toBe(500);
  const failedTrace = failed.headers['x-raceway-trace-id'];
  expect(typeof failedTrace).toBe('string');
  const missing = await send(`${users.url}/nowhere`);
  expect(missing.status).toBe(404);
  const missingTrace = missing.headers['x-raceway-trace-id'];
  expect(typeof missingTrace).toBe('string');

  const [errorTrace, notFoundTrace] = await s.settle(
    [failedTrace as string, missingTrace as string],
    { serverSpans: 1 },
  );
  const errorSpan = allSpans(errorTrace!)[0]!;
  expect(errorSpan).toMatchObject({ route: '/users/:id', status: 500, failed: true });
  expect(errorSpan.error).toMatchObject({ message: 'users table is locked' });
  expect(errorSpan.events.map((e) => e.kind)).toContain('error');
  // No route matched: none recorded (the collector then names the span by its path).
  const notFound = allSpans(notFoundTrace!)[0]!;
  expect(notFound).toMatchObject({ status: 404 });
  const sent = notFound.events.find((e) => e.kind === 'response_sent');
  expect(sent!.data).toMatchObject({ status: 404 });
  expect(sent!.data).not.toHaveProperty('route');
});
