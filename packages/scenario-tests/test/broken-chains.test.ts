// A callee that Raceway does not instrument: the trace breaks there, and the collector says so.
import { setTimeout as delay } from 'node:timers/promises';
import { listen } from '@raceway/propagation-tests/fixtures/adapters/listen.js';
import { expect, it, onTestFinished } from 'vitest';
import { callService, rootRequest, startScenario } from '../src/fixtures/index.js';

it('reports a call whose callee never reported, and shows that callee as uninstrumented', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());

  // A plain node:http server: it receives the trace headers and ignores them.
  const legacy = await listen((_req, res) => {
    void delay(40).then(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"rate":1.1}');
    });
  });
  s.defer(legacy.close);
  const legacyHost = new URL(legacy.url).host;

  const accounts = await s.service({
    name: 'accounts',
    framework: 'express',
    routes: { '/me': () => ({ id: 1 }) },
  });
  const billing = await s.service({
    name: 'billing',
    framework: 'koa',
    routes: {
      '/invoice': async () => [
        await callService('fetch', `${legacy.url}/rates`),
        await callService('axios', `${accounts.url}/me`),
      ],
    },
  });

  const { traceId } = await rootRequest(`${billing.url}/invoice`);
  await s.settle([traceId], { serverSpans: 2 });

  // The broken chain: billing's call to the legacy host, and nothing else.
  const { diagnostics, analysis } = await s.api.traceDiagnostics(traceId);
  expect(analysis).toBe('done');
  expect(diagnostics!.brokenChains).toHaveLength(1);
  expect(diagnostics!.brokenChains[0]).toMatchObject({
    kind: 'callee_missing',
    service: 'billing',
    host: legacyHost,
    calleeInstrumented: false,
    traceId,
  });
  const listed = await s.api.diagnostics();
  expect(listed.traces.map((t) => t.trace_id)).toEqual([traceId]);
  expect(listed.traces[0]!.diagnostic_count).toBeGreaterThanOrEqual(1);

  // The dependency graph: the legacy host is a node of its own, uninstrumented; accounts is not.
  const { nodes, edges } = await s.api.dependencies();
  expect(nodes).toContainEqual({ name: legacyHost, uninstrumented: true });
  expect(nodes).toContainEqual({ name: 'accounts', uninstrumented: false });
  expect(edges.map((e) => `${e.from}->${e.to} x${e.calls}`).sort()).toEqual([
    `billing->${legacyHost} x1`,
    'billing->accounts x1',
  ]);

  // Its 40 ms are on the critical path, charged to the host, not to billing.
  const { critical_path: path } = await s.api.criticalPath(traceId);
  const legacyShare = path!.services.find((x) => x.service === legacyHost);
  expect(legacyShare).toMatchObject({ uninstrumented: true });
  expect(legacyShare!.ms).toBeGreaterThanOrEqual(35);
  expect(path!.services.find((x) => x.service === 'billing')).not.toHaveProperty('uninstrumented');
});
