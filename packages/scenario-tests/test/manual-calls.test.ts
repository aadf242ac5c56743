// Manual calls (getTraceHeaders with a target, spec 2.7) are edges of the dependency graph,
// through a real collector: answered by an instrumented service or by an uninstrumented host.
import { getTraceHeaders, mergeResponseHeaders } from '@raceway/core';
import { listen } from '@raceway/propagation-tests/fixtures/adapters/listen.js';
import { send } from '@raceway/propagation-tests/fixtures/http-client.js';
import { expect, it, onTestFinished } from 'vitest';
import { rootRequest, startScenario } from '../src/fixtures/index.js';

/** One call through node:http, which no Raceway instrumentation sees: manual headers only. */
async function manualCall(url: string): Promise<unknown> {
  const headers = getTraceHeaders({ url, method: 'GET' });
  const response = await send(url, { headers });
  mergeResponseHeaders(response.headers, { status: response.status, request: headers });
  return response.json();
}

it('three manual calls with a target are three edges of the dependency graph', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());

  const legacy = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"rate":1.1}');
  });
  s.defer(legacy.close);
  const legacyHost = new URL(legacy.url).host;
  const inventory = await s.service({
    name: 'inventory',
    framework: 'fastify',
    routes: { '/reserve': () => ({ reserved: true }) },
  });
  const payments = await s.service({
    name: 'payments',
    framework: 'koa',
    routes: { '/charge': () => ({ charged: true }) },
  });
  const orders = await s.service({
    name: 'orders',
    framework: 'express',
    routes: {
      '/checkout': async () => [
        await manualCall(`${inventory.url}/reserve`),
        await manualCall(`${payments.url}/charge`),
        await manualCall(`${legacy.url}/rates`),
      ],
    },
  });

  const { traceId, body } = await rootRequest(`${orders.url}/checkout`);
  expect(body).toEqual([{ reserved: true }, { charged: true }, { rate: 1.1 }]);
  const [trace] = await s.settle([traceId], { serverSpans: 3 });
  expect(trace).toBeDefined();

  const { nodes, edges } = await s.api.dependencies();
  expect(nodes).toContainEqual({ name: legacyHost, uninstrumented: true });
  expect(edges.map((e) => `${e.from}->${e.to} x${e.calls} errors ${e.errors}`).sort()).toEqual(
    [
      'orders->inventory x1 errors 0',
      `orders->${legacyHost} x1 errors 0`,
      'orders->payments x1 errors 0',
    ].sort(),
  );
});
