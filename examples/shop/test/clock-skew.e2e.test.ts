import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { collectorApi } from '../src/collector-api.mjs';
import { type CollectorProcess, startCollectorProcess } from '../src/collector-process.mjs';
import { type RunningShop, startShop } from '../src/launch.mjs';
import { checkout } from '../src/traffic.mjs';

// Every service of the shop runs on this host, on one clock: whatever the load, no trace may
// report clock skew. Under load a server's event loop can be late to see its response finish,
// after its caller already read the answer; `response_sent` carries the time the response head
// was written, so the caller's `response_received` can never come first.

const CHECKOUTS = 200;
const AT_ONCE = 8;

let dir: string | undefined;
let collector: CollectorProcess | undefined;
let shop: RunningShop | undefined;

afterAll(async () => {
  await shop?.stop();
  await collector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it(`reports no clock skew for ${CHECKOUTS} checkouts, ${AT_ONCE} at once, on one host`, async () => {
  dir = mkdtempSync(join(tmpdir(), 'raceway-shop-skew-'));
  collector = await startCollectorProcess({ port: 0, storage: `sqlite:${join(dir, 'c.db')}` });
  const api = collectorApi(collector.url);
  shop = await startShop({ collectorUrl: collector.url, dataDir: dir, basePort: 0 });
  const frontend = shop.urls.frontend as string;

  const traceIds: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < CHECKOUTS) {
      next++;
      const visit = await checkout(frontend, { sku: 'mug' });
      expect(visit.status).toBe(201);
      if (visit.traceId) traceIds.push(visit.traceId);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  expect(traceIds).toHaveLength(CHECKOUTS);
  // Stopping the services (SIGTERM) makes each one flush its events before it exits.
  await shop.stop();
  await api.analyze();

  const skewed: Array<{ traceId: string; clockSkew: unknown }> = [];
  let analysed = 0;
  for (const traceId of traceIds) {
    const { diagnostics } = await api.traceDiagnostics(traceId);
    if (diagnostics === null) continue;
    analysed++;
    if (diagnostics.clockSkew.length > 0)
      skewed.push({ traceId, clockSkew: diagnostics.clockSkew });
  }
  expect(analysed).toBe(CHECKOUTS);
  expect(skewed, JSON.stringify(skewed.slice(0, 3), null, 2)).toEqual([]);
}, 180_000);
