import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import { PostgresStorage } from '../src/storage/postgres.js';
import { startCli } from './cli-process.js';
import {
  createTestDatabase,
  getJson,
  type Json,
  makeTrace,
  newTraceId,
  postBatch,
} from './fixtures.js';

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

const SDK_A = { name: 'raceway-node', version: '0.1.0', language: 'javascript' };
const SDK_B = { name: 'raceway-python', version: '0.2.0', language: 'python' };

/** Traces whose svc-a events go to one collector and svc-b events to another. */
function splitTraces(count: number): Array<{ a: StoredEvent[]; b: StoredEvent[] }> {
  return Array.from({ length: count }, () => {
    const events = makeTrace({ frontend: 'svc-a', backend: 'svc-b' });
    return {
      a: events.filter((e) => e.service === 'svc-a'),
      b: events.filter((e) => e.service === 'svc-b'),
    };
  });
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean) {
  let last: T | undefined;
  for (let i = 0; i < 300; i++) {
    last = await read();
    if (done(last)) return last;
    await sleep(50);
  }
  throw new Error(`${what}: not reached; last ${JSON.stringify(last)}`);
}

const open: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
});

async function collector(
  url: string,
  analysisDelayMs = 200,
  analysisMode: 'incremental' | 'full' = 'incremental',
): Promise<Collector> {
  const c = await startCollector({ port: 0, storage: url, analysisDelayMs, analysisMode });
  open.push(c);
  return c;
}

describe.skipIf(!adminUrl)(
  `several collectors on one PostgreSQL${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('answers /api/services and /api/dependencies alike on every collector', async () => {
      const url = await createTestDatabase(adminUrl!);
      const [one, two] = [await collector(url), await collector(url)];
      const traces = splitTraces(20);
      for (const { a, b } of traces) {
        expect((await postBatch(one.url, { sdk: SDK_A, events: a })).status).toBe(200);
        expect((await postBatch(two.url, { sdk: SDK_B, events: b })).status).toBe(200);
      }
      const answers = async (path: string) =>
        Promise.all([one, two].map(async (c) => (await getJson(`${c.url}${path}`)).json as Json));
      // Each collector saves what it counted within a second: then both answer the same.
      const same = (pair: Json[]) =>
        JSON.stringify({ ...pair[0], to: null }) === JSON.stringify({ ...pair[1], to: null });
      const services = await until(
        'same services',
        () => answers('/api/services'),
        (pair) => same(pair) && pair[0].services.length === 2,
      );
      expect(services[0].services).toEqual([
        expect.objectContaining({
          service: 'svc-a',
          requests: 20,
          sdks: [expect.objectContaining({ ...SDK_A, instances: 1 })],
        }),
        expect.objectContaining({
          service: 'svc-b',
          requests: 20,
          sdks: [expect.objectContaining({ ...SDK_B, instances: 1 })],
        }),
      ]);
      const deps = await until('same dependencies', () => answers('/api/dependencies'), same);
      // svc-a's calls went to one collector, svc-b's server spans to the other: still one
      // edge to the service, not to its host as an uninstrumented node.
      expect(deps[0].nodes).toEqual([
        { name: 'svc-a', uninstrumented: false },
        { name: 'svc-b', uninstrumented: false },
      ]);
      expect(deps[0].edges).toEqual([
        expect.objectContaining({ from: 'svc-a', to: 'svc-b', calls: 20, errors: 0 }),
      ]);
    });

    it('analyses a trace split across collectors once', async () => {
      const url = await createTestDatabase(adminUrl!);
      const [one, two] = [await collector(url, 300), await collector(url, 300)];
      const traces = splitTraces(40);
      // Both halves arrive before either collector finds its half quiet.
      await Promise.all([
        postBatch(one.url, { events: traces.flatMap((t) => t.a) }),
        postBatch(two.url, { events: traces.flatMap((t) => t.b) }),
      ]);
      const status = () =>
        Promise.all(
          [one, two].map(async (c) => (await getJson(`${c.url}/api/analysis/status`)).json),
        );
      await until('nothing pending', status, (both) =>
        both.every((s: Json) => s.pending_traces === 0 && !s.running),
      );
      // Long enough for a second analysis to happen, had the other collector made one.
      await sleep(1000);
      const analysed = (await status()).map((s: Json) => s.traces_analyzed);
      expect(analysed[0] + analysed[1]).toBe(40);
      const trace = await getJson(`${one.url}/api/traces/${traces[0]!.a[0]!.trace_id}`);
      expect(trace.json.analysis).toBe('done');
    });

    it('renews only the leases a collector still holds', async () => {
      const storage = new PostgresStorage(await createTestDatabase(adminUrl!));
      try {
        await storage.init();
        const [kept, lost, free] = ['a', 'b', 'c'].map((c) => c.repeat(32));
        expect(await storage.claimTraces([kept!, lost!], 'one', 1)).toEqual([kept, lost]);
        await sleep(5);
        // One's leases ran out: two takes one of them over; the other is still free.
        expect(await storage.claimTraces([lost!], 'two', 60_000)).toEqual([lost]);
        expect(await storage.renewTraces([kept!, lost!, free!], 'one', 60_000)).toEqual([kept]);
        // Renewed: two cannot take it now.
        expect(await storage.claimTraces([kept!, free!], 'two', 60_000)).toEqual([free]);
      } finally {
        await storage.close();
      }
    });

    it('takes over the traces a killed collector left pending', async () => {
      const url = await createTestDatabase(adminUrl!);
      const cwd = mkdtempSync(join(tmpdir(), 'raceway-takeover-'));
      // The first never finds its traces quiet (a minute's delay): it dies with all pending.
      const doomed = await startCli(
        ['serve', '--port', '0', '--storage', url, '--analysis-delay', '60000'],
        { cwd },
      );
      const survivor = await startCli(
        ['serve', '--port', '0', '--storage', url, '--analysis-delay', '200'],
        { cwd },
      );
      try {
        const traces = Array.from({ length: 30 }, () => makeTrace());
        for (const events of traces) {
          expect((await postBatch(doomed.url, { events })).status).toBe(200);
        }
        const pending = (await getJson(`${doomed.url}/api/analysis/status`)).json;
        expect(pending.pending_traces).toBe(30);
        doomed.child.kill('SIGKILL');
        await doomed.exited;
        const startedMs = Date.now();
        const ids = traces.map((events) => events[0]!.trace_id);
        await until(
          'every trace analysed by the survivor',
          async () =>
            Promise.all(
              ids.map(
                async (id) => (await getJson(`${survivor.url}/api/traces/${id}`)).json.analysis,
              ),
            ),
          (states) => states.every((s) => s === 'done'),
        );
        // Found by the periodic look for pending work (every 3 s, traces quiet for 3 s), not
        // at start.
        expect(Date.now() - startedMs).toBeLessThan(10_000);
        const status = (await getJson(`${survivor.url}/api/analysis/status`)).json;
        expect(status.traces_analyzed).toBe(30);
      } finally {
        doomed.child.kill('SIGKILL');
        survivor.child.kill('SIGTERM');
        await survivor.exited;
      }
    }, 40_000);

    it('keeps the leases of a long analysis, and has them taken over within 10 s once its collector is killed', async () => {
      const url = await createTestDatabase(adminUrl!);
      const cwd = mkdtempSync(join(tmpdir(), 'raceway-lease-takeover-'));
      const doomed = await startCli(
        ['serve', '--port', '0', '--storage', url, '--analysis-delay', '1000'],
        { cwd },
      );
      const survivor = await startCli(
        ['serve', '--port', '0', '--storage', url, '--analysis-delay', '200'],
        { cwd },
      );
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        const traces = Array.from({ length: 20 }, () => makeTrace());
        const ids = traces.map((events) => events[0]!.trace_id);
        expect((await postBatch(doomed.url, { events: traces.flat() })).status).toBe(200);
        // The analysis cannot end: saving it waits for these rows, locked until the collector
        // analysing them is dead (it is quiet for 1 s before it starts).
        await db.query('BEGIN');
        await db.query('SELECT trace_id FROM traces WHERE trace_id = ANY($1::text[]) FOR UPDATE', [
          ids,
        ]);
        const doomedOwner = `${hostname()}/${doomed.child.pid}/`;
        const leases = async () => {
          const { rows } = await db.query(
            `SELECT owner, expires_at_ms::float8 AS expires,
               (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now
             FROM analysis_leases WHERE trace_id = ANY($1::text[])`,
            [ids],
          );
          return rows as Array<{ owner: string; expires: number; now: number }>;
        };
        const heldByDoomed = (rows: Awaited<ReturnType<typeof leases>>) =>
          rows.length === ids.length && rows.every((r) => r.owner.startsWith(doomedOwner));
        const first = await until('the doomed collector holding every lease', leases, heldByDoomed);
        const firstEnd = Math.max(...first.map((r) => r.expires));
        // Past the end of the leases first taken, the analysis still runs: its leases were
        // renewed, not taken over by the survivor.
        await until('the leases renewed past their first end', leases, (rows) => {
          return (
            heldByDoomed(rows) && rows[0]!.now > firstEnd && rows.every((r) => r.expires > r.now)
          );
        });
        expect((await getJson(`${survivor.url}/api/analysis/status`)).json.traces_analyzed).toBe(0);

        doomed.child.kill('SIGKILL');
        await doomed.exited;
        const killedMs = Date.now();
        // Its save, never sent, cannot happen now.
        await db.query('ROLLBACK');
        await until(
          'every trace analysed by the survivor',
          async () =>
            Promise.all(
              ids.map(
                async (id) => (await getJson(`${survivor.url}/api/traces/${id}`)).json.analysis,
              ),
            ),
          (states) => states.every((s) => s === 'done'),
        );
        expect(Date.now() - killedMs).toBeLessThan(10_000);
        // Each trace analysed once, and its lease given back.
        await sleep(1000);
        expect((await getJson(`${survivor.url}/api/analysis/status`)).json.traces_analyzed).toBe(
          ids.length,
        );
        expect(await leases()).toEqual([]);
      } finally {
        await db.end();
        doomed.child.kill('SIGKILL');
        survivor.child.kill('SIGTERM');
        await survivor.exited;
      }
    }, 60_000);

    it('saves an analysis whole when another collector saved the trace since this one did', async () => {
      const url = await createTestDatabase(adminUrl!);
      const [a, b] = [await collector(url), await collector(url)];
      const traceId = newTraceId();
      const startUs = (Date.now() - 60_000) * 1000;
      // Requests on 8 resources: each resource's requests race with each other.
      const request = (i: number) =>
        makeTrace({
          traceId,
          startUs: startUs + i * 100_000,
          resource: `stock:sku-${i % 8}`,
        });
      const analysed = async (c: Collector, count: number) =>
        until(
          `${count} analyses by ${c.url}`,
          async () => (await getJson(`${c.url}/api/analysis/status`)).json,
          (s: Json) => s.traces_analyzed === count && s.pending_traces === 0 && !s.running,
        );
      // A: a trace long enough for its analysis state to be kept (1,000 events and more).
      const first = Array.from({ length: 130 }, (_, i) => request(i)).flat();
      expect(first.length).toBeGreaterThanOrEqual(1000);
      const posted = await postBatch(a.url, { events: first });
      expect(posted.status, posted.text).toBe(200);
      await analysed(a, 1);
      // B: a new race on sku-3, and a call whose callee's events have not arrived (a broken
      // chain in B's analysis). A knows nothing of this save.
      const [split, more] = [request(130), request(131)];
      const caller = split.filter((e) => e.service === 'frontend');
      const callee = split.filter((e) => e.service !== 'frontend');
      expect((await postBatch(b.url, { events: [...caller, ...more] })).status).toBe(200);
      await analysed(b, 1);
      const diagnosticsOf = async (c: Collector) =>
        (await getJson(`${c.url}/api/traces/${traceId}/diagnostics`)).json.diagnostics;
      expect((await diagnosticsOf(b)).brokenChains).toHaveLength(1);
      // A again: the callee's events end the broken chain (A's analysis has none, as the one A
      // saved before), and a race on sku-4. A folds them, and B's events, into its kept state.
      const last = request(132);
      expect((await postBatch(a.url, { events: [...callee, ...last] })).status).toBe(200);
      await analysed(a, 2);
      expect((await getJson(`${b.url}/api/analysis/status`)).json.traces_analyzed).toBe(1);

      // What a full analysis of every event gives: a collector of its own, in full mode.
      const full = await collector(await createTestDatabase(adminUrl!), 200, 'full');
      const all = [...first, ...caller, ...more, ...callee, ...last];
      expect((await postBatch(full.url, { events: all })).status).toBe(200);
      await analysed(full, 1);
      const answers = async (c: Collector) => {
        const read = async (path: string) => {
          const { analyzed_at: _, ...rest } = (await getJson(`${c.url}${path}`)).json;
          return rest;
        };
        return {
          diagnostics: await read(`/api/traces/${traceId}/diagnostics`),
          criticalPath: await read(`/api/traces/${traceId}/critical-path`),
          traceRaces: await read(`/api/traces/${traceId}/races`),
          races: await read(`/api/races?trace_id=${traceId}&scope=trace&limit=1000`),
        };
      };
      const expected = await answers(full);
      expect(expected.diagnostics.diagnostics.brokenChains).toEqual([]);
      // One group per resource (the same sites race on each).
      expect(expected.races.races).toHaveLength(8);
      // A's changes since its own save leave the broken chains alone (none before, none
      // after): only a save that sees B's save in between, and saves whole, drops B's.
      expect(await answers(a)).toEqual(expected);
      expect(await answers(b)).toEqual(expected);
    }, 30_000);
  },
);
