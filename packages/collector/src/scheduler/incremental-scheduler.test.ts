import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTrace, newTraceId } from '../../test/fixtures.js';
import { analyzeTrace } from '../analysis/index.js';
import type { StoredEvent } from '../event.js';
import { SqliteStorage } from '../storage/sqlite.js';
import type { Storage } from '../storage/types.js';
import { AnalysisScheduler } from './analysis-scheduler.js';
import { defaultEngine } from './default-engine.js';

const open: SqliteStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A SQLite store that counts the events analysis reads back. */
async function countingStorage() {
  const store = new SqliteStorage(':memory:');
  await store.init();
  open.push(store);
  const reads = { events: 0, after: 0 };
  const counting = new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'getTraceEventsAfter') {
        return async (id: string, after: { tsUs: number; id: string }) => {
          const found = await target.getTraceEventsAfter(id, after);
          reads.after += found.length;
          return found;
        };
      }
      if (name === 'getEventsOfTraces') {
        return async (ids: string[]) => {
          const found = await target.getEventsOfTraces(ids);
          for (const events of found.values()) reads.events += events.length;
          return found;
        };
      }
      const value = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Storage;
  return { store, storage: counting, reads };
}

/** One more request of a long-lived trace, 100 ms after the previous one. */
function request(traceId: string, i: number): StoredEvent[] {
  return makeTrace({
    traceId,
    startUs: 1_700_000_000_000_000 + i * 100_000,
    resource: `stock:sku-${i % 2}`,
    backendStatus: i % 4 === 0 ? 503 : 200,
  });
}

/** The stored analysis, as saved, against a full analysis of every stored event. */
async function expectFullAnalysis(store: SqliteStorage, traceId: string) {
  const saved = await store.getTraceAnalysis(traceId);
  const expected = analyzeTrace(await store.getTraceEvents(traceId));
  expect(saved?.races).toEqual(JSON.parse(JSON.stringify(expected.races)));
  expect(saved?.criticalPath).toEqual(JSON.parse(JSON.stringify(expected.criticalPath)));
  expect(saved?.diagnostics).toEqual(JSON.parse(JSON.stringify(expected.diagnostics)));
  expect(expected.races.length).toBeGreaterThan(0);
}

describe('AnalysisScheduler, incremental', () => {
  it('folds appended events into the kept analysis without reading the trace back', async () => {
    for (const analysisMode of ['incremental', 'full'] as const) {
      const { store, storage, reads } = await countingStorage();
      const scheduler = new AnalysisScheduler({
        storage,
        engine: defaultEngine,
        delayMs: 60_000,
        analysisMode,
        minStateEvents: 0,
      });
      await scheduler.start();
      const traceId = newTraceId();
      for (let i = 0; i < 20; i++) {
        const { inserted } = await store.insertEvents(request(traceId, i));
        scheduler.onStored(inserted);
      }
      await scheduler.runNow();
      const readBefore = reads.events;
      for (let i = 20; i < 25; i++) {
        const { inserted } = await store.insertEvents(request(traceId, i));
        scheduler.onStored(inserted);
        await scheduler.runNow();
        await expectFullAnalysis(store, traceId);
      }
      const readForAppends = reads.events - readBefore;
      if (analysisMode === 'incremental') expect(readForAppends).toBe(0);
      // The check above tells the modes apart: full analysis reads the whole trace each time.
      else expect(readForAppends).toBeGreaterThan(5 * 20 * 5);
      await scheduler.stop();
    }
  });

  it('reads only the later events that came through another collector', async () => {
    const { store, storage, reads } = await countingStorage();
    const scheduler = new AnalysisScheduler({
      storage,
      engine: defaultEngine,
      delayMs: 60_000,
      minStateEvents: 0,
    });
    await scheduler.start();
    const traceId = newTraceId();
    const first = await store.insertEvents(request(traceId, 0));
    scheduler.onStored(first.inserted);
    await scheduler.runNow();
    const readFirst = reads.events;
    // Stored by another collector: this one is not told (its onStored is not called).
    const theirs = await store.insertEvents(request(traceId, 1));
    const mine = await store.insertEvents(request(traceId, 2));
    scheduler.onStored(mine.inserted);
    await scheduler.runNow();
    expect(reads.events).toBe(readFirst);
    expect(reads.after).toBe(theirs.accepted + mine.accepted);
    await expectFullAnalysis(store, traceId);
    await scheduler.stop();
  });

  it('reads the trace whole when another collector stored an earlier event', async () => {
    const { store, storage, reads } = await countingStorage();
    const scheduler = new AnalysisScheduler({
      storage,
      engine: defaultEngine,
      delayMs: 60_000,
      minStateEvents: 0,
    });
    await scheduler.start();
    const traceId = newTraceId();
    const first = await store.insertEvents(request(traceId, 1));
    scheduler.onStored(first.inserted);
    await scheduler.runNow();
    const readFirst = reads.events;
    await store.insertEvents(request(traceId, -2));
    const mine = await store.insertEvents(request(traceId, 2));
    scheduler.onStored(mine.inserted);
    await scheduler.runNow();
    expect(reads.events - readFirst).toBe((await store.getTraceEvents(traceId)).length);
    await expectFullAnalysis(store, traceId);
    await scheduler.stop();
  });

  it('rebuilds an evicted analysis from storage', async () => {
    const { store, storage, reads } = await countingStorage();
    // Room for one trace's state: analysing the second evicts the first.
    const scheduler = new AnalysisScheduler({
      storage,
      engine: defaultEngine,
      delayMs: 60_000,
      maxStateEvents: 40,
      minStateEvents: 0,
    });
    await scheduler.start();
    const [a, b] = [newTraceId(), newTraceId()];
    for (const traceId of [a, b]) {
      for (let i = 0; i < 3; i++) {
        const { inserted } = await store.insertEvents(request(traceId, i));
        scheduler.onStored(inserted);
      }
      await scheduler.runNow();
    }
    const { inserted } = await store.insertEvents(request(a, 3));
    scheduler.onStored(inserted);
    await scheduler.runNow();
    expect(reads.events).toBe((await store.getTraceEvents(a)).length);
    await expectFullAnalysis(store, a);
    await expectFullAnalysis(store, b);
    await scheduler.stop();
  });

  it('saves an append by what it changed: its race rows and the parts of the record that changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raceway-saved-'));
    try {
      for (const analysisMode of ['incremental', 'full'] as const) {
        const path = join(dir, `${analysisMode}.db`);
        const store = new SqliteStorage(path);
        await store.init();
        open.push(store);
        const log = logWrites(path);
        const scheduler = new AnalysisScheduler({
          storage: store,
          engine: defaultEngine,
          delayMs: 60_000,
          analysisMode,
          minStateEvents: 0,
        });
        await scheduler.start();
        const traceId = newTraceId();
        // Requests on 8 resources: each resource's requests race with each other.
        const onResource = (i: number) =>
          makeTrace({
            traceId,
            startUs: 1_700_000_000_000_000 + i * 100_000,
            resource: `stock:sku-${i % 8}`,
          });
        for (let i = 0; i < 24; i++)
          scheduler.onStored((await store.insertEvents(onResource(i))).inserted);
        await scheduler.runNow();
        const before = log.parts();
        log.clear();
        // One more request on sku-0: only the races of sku-0 can change.
        scheduler.onStored((await store.insertEvents(onResource(24))).inserted);
        await scheduler.runNow();
        await expectFullAnalysis(store, traceId);
        const saved = (await store.getTraceAnalysis(traceId))!;
        // The race rows are the record's races.
        const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
        const rows = await store.listRaces({ traceId, limit: 1000 });
        expect(rows.map((r) => r.race).sort(byId)).toEqual([...saved.races].sort(byId));
        const racesWritten = log.written('races');
        const partsWritten = log.written('trace_analysis_parts');
        const after = log.parts();
        const changedParts = [...after.keys()].filter(
          (name) => before.get(name) !== after.get(name),
        );
        if (analysisMode === 'incremental') {
          const sku0 = saved.races.filter((r) => r.resource === 'stock:sku-0').map((r) => r.id);
          expect(racesWritten.length).toBeGreaterThan(0);
          expect(racesWritten.every((id) => sku0.includes(id))).toBe(true);
          expect(saved.races.length).toBeGreaterThan(3 * racesWritten.length);
          expect(partsWritten.sort()).toEqual(changedParts.sort());
          expect(partsWritten.length).toBeLessThan(after.size);
        } else {
          // A full analysis saves everything: every race and part, deleted and written again.
          expect(new Set(racesWritten)).toEqual(new Set(saved.races.map((r) => r.id)));
          expect(new Set(partsWritten)).toEqual(new Set(after.keys()));
        }
        log.close();
        await scheduler.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Logs the rows written to `races` and `trace_analysis_parts` of a SQLite file (triggers, so
 * that the collector's own connections are watched): their ids, or part names.
 */
function logWrites(path: string) {
  const db = new Database(path);
  db.exec('CREATE TABLE write_log (tbl TEXT NOT NULL, key TEXT NOT NULL)');
  for (const [table, key] of [
    ['races', 'id'],
    ['trace_analysis_parts', 'name'],
  ] as const) {
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      const row = op === 'DELETE' ? 'OLD' : 'NEW';
      db.exec(`CREATE TRIGGER log_${table}_${op} AFTER ${op} ON ${table}
        BEGIN INSERT INTO write_log VALUES ('${table}', ${row}.${key}); END`);
    }
  }
  return {
    written: (table: string) => [
      ...new Set(
        (
          db.prepare('SELECT key FROM write_log WHERE tbl = ?').all(table) as Array<{ key: string }>
        ).map((r) => r.key),
      ),
    ],
    parts: () =>
      new Map(
        (
          db.prepare('SELECT name, body FROM trace_analysis_parts').all() as Array<{
            name: string;
            body: string;
          }>
        ).map((r) => [r.name, r.body]),
      ),
    clear: () => db.exec('DELETE FROM write_log'),
    close: () => db.close(),
  };
}
