// Where the time of a request goes: five services, a parallel fan-out, deliberate latencies.
import { setTimeout as delay } from 'node:timers/promises';
import { expect, it, onTestFinished } from 'vitest';
import { callService, rootRequest, startScenario } from '../src/fixtures/index.js';

/** Services in the order they first appear, without repeats. */
const visited = (services: string[]) => [...new Set(services)];

it('follows the slowest branch of a fan-out through five services to the biggest contributor', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());

  // gateway -> api -> { search, pricing } in parallel; pricing -> db. The db's 60 ms query is
  // the biggest single cost, and pricing (10 ms + db) the slower branch of the fan-out.
  const db = await s.service({
    name: 'db',
    framework: 'fastify',
    routes: { '/query': () => delay(60).then(() => ({ rows: 3 })) },
  });
  const pricing = await s.service({
    name: 'pricing',
    framework: 'express',
    routes: {
      '/price': async () => {
        await delay(10);
        return callService('fetch', `${db.url}/query`);
      },
    },
  });
  const search = await s.service({
    name: 'search',
    framework: 'koa',
    routes: { '/search': () => delay(15).then(() => ({ hits: 2 })) },
  });
  const api = await s.service({
    name: 'api',
    framework: 'fastify',
    routes: {
      '/products': async () => {
        await delay(5);
        // search is called first: a walk that took the first child instead of the one that
        // finished last would go there.
        return Promise.all([
          callService('axios', `${search.url}/search`),
          callService('axios', `${pricing.url}/price`),
        ]);
      },
    },
  });
  const gateway = await s.service({
    name: 'gateway',
    framework: 'express',
    routes: {
      '/products': async () => {
        await delay(5);
        return callService('fetch', `${api.url}/products`);
      },
    },
  });

  const { traceId } = await rootRequest(`${gateway.url}/products`);
  await s.settle([traceId], { serverSpans: 5 });

  const { critical_path: path, analysis } = await s.api.criticalPath(traceId);
  expect(analysis).toBe('done');
  expect(path).not.toBeNull();
  expect(visited(path!.segments.map((x) => x.service))).toEqual([
    'gateway',
    'api',
    'pricing',
    'db',
  ]);
  expect(path!.segments.map((x) => x.service)).not.toContain('search');
  expect(path!.segments[0]).toMatchObject({ service: 'gateway', kind: 'server' });
  expect(path!.biggestContributor).toBe('db');
  // The db's share is its whole 60 ms span: nothing runs beside it on the path.
  const dbShare = path!.services[0]!;
  expect(dbShare.service).toBe('db');
  expect(dbShare.ms).toBeGreaterThanOrEqual(55);
  expect(dbShare.ms).toBe(path!.segments.find((x) => x.service === 'db')!.durationMs);
  // At least the sum of the delays on the path, and the path covers the root exactly.
  expect(path!.totalMs).toBeGreaterThanOrEqual(5 + 5 + 10 + 60 - 1);
  const attributed = path!.services.reduce((sum, x) => sum + x.ms, 0);
  expect(Math.abs(attributed - path!.totalMs)).toBeLessThan(0.05);

  // The same trace gives the dependency graph its edges, each called once.
  const { edges, nodes } = await s.api.dependencies();
  expect(edges.map((e) => `${e.from}->${e.to} x${e.calls}`).sort()).toEqual([
    'api->pricing x1',
    'api->search x1',
    'gateway->api x1',
    'pricing->db x1',
  ]);
  expect(nodes.every((n) => !n.uninstrumented)).toBe(true);
});
