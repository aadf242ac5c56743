import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { stateAccessesSql } from '../src/storage/sql.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import type { TraceAnalysisRecord } from '../src/storage/types.js';
import { hex, makeTrace } from './fixtures.js';
import { storageSuite } from './storage.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'raceway-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function open() {
  const storage = new SqliteStorage(join(dir, `suite-${n++}.db`), { writer: 'inline' });
  await storage.init();
  expect(storage.writerMode).toBe('inline');
  return storage;
}

// The writer thread runs the built script (dist/sqlite-writer-worker.js, built before the run
// by test/build-global-setup.ts), so this suite runs against the built package.
async function openThreaded() {
  const built = (await import(
    new URL('../dist/index.js', import.meta.url).href
  )) as typeof import('../src/index.js');
  const storage = new built.SqliteStorage(join(dir, `thread-${n++}.db`));
  await storage.init();
  expect(storage.writerMode).toBe('thread');
  return storage;
}

describe('SQLite storage, writer thread', () => {
  storageSuite(openThreaded);

  it('sends the writer thread only the changes of an analysis, and the whole when they no longer apply', async () => {
    const storage = await openThreaded();
    const events = makeTrace();
    await storage.insertEvents(events);
    const traceId = events[0]!.trace_id;
    const record = (version: number, criticalPath: string): TraceAnalysisRecord => ({
      traceId,
      version,
      analyzedAtMs: 1000 + version,
      races: [],
      criticalPath: { path: criticalPath } as unknown as TraceAnalysisRecord['criticalPath'],
      diagnostics: null,
      diagnosticCount: 0,
    });
    const changes = (baseVersion: number, criticalPath: string) => ({
      base: { version: baseVersion, analyzedAtMs: 1000 + baseVersion },
      races: [],
      goneRaces: [],
      parts: [{ name: 'critical_path', position: 0, body: JSON.stringify({ path: criticalPath }) }],
      goneParts: [],
    });
    await storage.saveTraceAnalyses([{ record: record(1, 'a'.repeat(100)), races: [] }]);
    // What crosses to the thread (the storage holds the worker privately).
    const { writer } = storage as unknown as {
      writer: { worker: { postMessage(message: unknown): void } };
    };
    const sent: Array<{ op: string; items?: Array<{ record: TraceAnalysisRecord }> }> = [];
    const post = writer.worker.postMessage.bind(writer.worker);
    writer.worker.postMessage = (message) => {
      sent.push(message as (typeof sent)[number]);
      post(message);
    };

    await storage.saveTraceAnalyses([
      { record: record(2, 'b'.repeat(100)), races: [], changes: changes(1, 'b') },
    ]);
    const analyses = () => sent.filter((message) => message.op === 'analysis');
    expect(analyses()).toHaveLength(1);
    expect(analyses()[0]!.items![0]!.record).toMatchObject({ version: 2, criticalPath: null });
    expect((await storage.getTraceAnalysis(traceId))?.criticalPath).toEqual({ path: 'b' });

    // Changes computed against version 1, stored is 2: the thread asks for the whole.
    await storage.saveTraceAnalyses([
      { record: record(3, 'c'.repeat(100)), races: [], changes: changes(1, 'c') },
    ]);
    expect(analyses()).toHaveLength(3);
    expect(analyses()[2]!.items![0]!.record.criticalPath).toEqual({ path: 'c'.repeat(100) });
    expect(await storage.getTraceAnalysis(traceId)).toEqual(record(3, 'c'.repeat(100)));
    await storage.close();
  });

  it('restarts a writer thread that died; meanwhile writes and ping fail (so SDKs retry)', async () => {
    const storage = await openThreaded();
    await storage.insertEvents(makeTrace());
    // Simulates a crash of the thread (the storage holds it privately).
    const { writer } = storage as unknown as {
      writer: { worker: { terminate(): Promise<number> } };
    };
    await writer.worker.terminate();
    await expect(storage.insertEvents(makeTrace())).rejects.toThrow(/writer thread exited/);
    await expect(storage.ping()).rejects.toThrow(/writer thread exited/);
    expect(storage.writerHealth()).toMatchObject({
      state: 'restarting',
      lastFailure: expect.stringMatching(/exited/),
    });
    const deadline = Date.now() + 5000;
    while (storage.writerHealth().state !== 'ok' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(storage.writerHealth()).toMatchObject({ state: 'ok', restarts: 1 });
    const trace = makeTrace();
    expect((await storage.insertEvents(trace)).accepted).toBe(trace.length);
    await storage.ping();
    await storage.close();
  });
});

describe('SQLite storage', () => {
  storageSuite(open);

  it('runs in WAL mode with synchronous=FULL', async () => {
    const path = join(dir, 'pragmas.db');
    const storage = new SqliteStorage(path);
    await storage.init();
    await storage.insertEvents(makeTrace());
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    // synchronous is per connection: read it through the storage's own connection.
    expect(
      (storage as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }),
    ).toBe(2);
    await storage.close();
  });

  it("reads a resource's accesses from event_resources alone, never from events", async () => {
    const storage = await open();
    const resource = `stock:${hex(4)}`;
    await storage.insertEvents([...makeTrace({ resource }), ...makeTrace({ resource })]);
    expect(await storage.getStateAccesses(resource, 0, Number.MAX_SAFE_INTEGER, 100)).toHaveLength(
      4,
    );
    const db = (storage as unknown as { db: Database.Database }).db;
    const plan = db
      .prepare(`EXPLAIN QUERY PLAN ${stateAccessesSql('sqlite')}`)
      .all({ resource, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 100 }) as Array<{
      detail: string;
    }>;
    const reads = plan.map((p) => p.detail).filter((d) => /^(SCAN|SEARCH) /.test(d));
    expect(reads).toEqual([
      expect.stringMatching(/^SEARCH event_resources USING INDEX event_resources_resource /),
    ]);
    await storage.close();
  });

  it('keeps data across close and reopen', async () => {
    const path = join(dir, 'reopen.db');
    const events = makeTrace();
    const first = new SqliteStorage(path);
    await first.init();
    await first.insertEvents(events);
    await first.close();
    const second = new SqliteStorage(path);
    await second.init();
    expect(await second.getTraceEvents(events[0]!.trace_id)).toHaveLength(events.length);
    expect((await second.insertEvents(events)).duplicates).toBe(events.length);
    await second.close();
  });
});
