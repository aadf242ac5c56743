// Where the time of a request goes: five services, a parallel fan-out, deliberate latencies.
import { setTimeout as delay } from 'node:timers/promises';
import { expect, it, onTestFinished } from 'vitest';
import { callService, rootRequest, startScenario } from '../src/fixtures/index.js';

/** Services in the order they first appear, without repeats. */
const visited = (services: string[]) => [...new Set(services)];

it('follows the slowest branch of a fan-out through five services to the biggest contributor', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());

  // gateway -> api -> { search, pricing } in parallel; pricing -> db. The db's 80 ms query is
  // the biggest single cost by far, and pricing (10 ms + db) the slower branch of the fan-out.
  const db = await s.service({
    name: 'db',
    framework: 'fastify',
    routes: { '/query': () => delay(80).then(() => ({ rows: 3 })) },
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
  // The db's share is its whole 80 ms span: nothing runs beside it on the path.
  const dbShare = path!.services[0]!;
  expect(dbShare.service).toBe('db');
  expect(dbShare.ms).toBeGreaterThanOrEqual(75);
  expect(dbShare.ms).toBe(path!.segments.find((x) => x.service === 'db')!.durationMs);
  // At least the sum of the delays on the path, and the path covers the root exactly.
  expect(path!.totalMs).toBeGreaterThanOrEqual(5 + 5 + 10 + 80 - 1);
  const attributed = path!.services.reduce((sum, x) => sum + x.ms, 0);
  expect(Math.abs(attributed - path!.totalMs)).toBeLessThan(0.05);
  // Its sections follow one another from the root's start to its end.
  let at = 0;
  for (const section of path!.sections) {
    expect(Math.abs(section.startMs - at)).toBeLessThan(0.01);
    at = section.startMs + section.durationMs;
  }
  expect(Math.abs(at - path!.totalMs)).toBeLessThan(0.01);

  // A healthy chain: every call answered by a service that reported it.
  const { diagnostics } = await s.api.traceDiagnostics(traceId);
  expect(diagnostics!.brokenChains).toEqual([]);
  expect(diagnostics!.summary.services).toEqual(['api', 'db', 'gateway', 'pricing', 'search']);

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
