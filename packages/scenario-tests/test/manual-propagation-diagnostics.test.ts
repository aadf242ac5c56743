// Manual propagation that goes wrong quietly, named by the collector: a caller that sends the
// trace id alone (the clock left behind), and one that never merges the response's clock.
import { getTraceHeaders, mergeResponseHeaders } from '@raceway/core';
import { send } from '@raceway/propagation-tests/fixtures/http-client.js';
import { expect, it, onTestFinished } from 'vitest';
import { callService, rootRequest, startScenario } from '../src/fixtures/index.js';

/** A manual call through node:http that copies only X-Raceway-Trace-Id onto the request. */
async function traceIdOnlyCall(url: string): Promise<unknown> {
  const all = getTraceHeaders({ url, method: 'GET' });
  const [name, value] = Object.entries(all).find(
    ([n]) => n.toLowerCase() === 'x-raceway-trace-id',
  )!;
  const response = await send(url, { headers: { [name]: value } });
  mergeResponseHeaders(response.headers, { status: response.status, request: all });
  return response.json();
}

it('a callee joined by the trace id alone: clock_missing, naming the header and the fix', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());
  const payments = await s.service({
    name: 'payments',
    framework: 'koa',
    routes: { '/charge': () => ({ charged: true }) },
  });
  const orders = await s.service({
    name: 'orders',
    framework: 'express',
    routes: { '/checkout': () => traceIdOnlyCall(`${payments.url}/charge`) },
  });

  const { traceId, body } = await rootRequest(`${orders.url}/checkout`);
  expect(body).toEqual({ charged: true });
  await s.settle([traceId], { serverSpans: 2 });

  const { diagnostics } = await s.api.traceDiagnostics(traceId);
  const missing = diagnostics!.brokenChains.filter((b) => b.kind === 'clock_missing');
  expect(missing).toHaveLength(1);
  expect(missing[0]).toMatchObject({ service: 'payments', traceId });
  expect(missing[0]!.explanation).toMatch(/without X-Raceway-VC or traceparent/);
  expect(missing[0]!.explanation).toMatch(/second root/);
  expect(missing[0]!.explanation).toMatch(/getTraceHeaders\(\)/);
  const listed = await s.api.diagnostics();
  expect(listed.traces.map((t) => t.trace_id)).toContain(traceId);
});

it('a caller that never merges the response: response_not_merged, naming mergeResponseHeaders', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());
  const payments = await s.service({
    name: 'payments',
    framework: 'fastify',
    routes: { '/charge': () => ({ charged: true }) },
  });
  const orders = await s.service({
    name: 'orders',
    framework: 'express',
    routes: {
      '/checkout': () => callService('manual-no-merge', `${payments.url}/charge`),
      '/checkout-merged': () => callService('manual', `${payments.url}/charge`),
    },
  });

  const unmerged = await rootRequest(`${orders.url}/checkout`);
  const merged = await rootRequest(`${orders.url}/checkout-merged`);
  await s.settle([unmerged.traceId, merged.traceId], { serverSpans: 2 });

  const { diagnostics } = await s.api.traceDiagnostics(unmerged.traceId);
  expect(diagnostics!.brokenChains.map((b) => [b.kind, b.service])).toEqual([
    ['response_not_merged', 'orders'],
  ]);
  expect(diagnostics!.brokenChains[0]!.explanation).toMatch(/mergeResponseHeaders/);
  // The same call with the response merged: nothing to report.
  const healthy = await s.api.traceDiagnostics(merged.traceId);
  expect(healthy.diagnostics!.brokenChains).toEqual([]);
});
