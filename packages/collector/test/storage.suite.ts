import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlConnectionOf } from '../src/analysis/sql/sql-accesses.js';
import type { StoredEvent } from '../src/event.js';
import { sqlConnectionKey } from '../src/storage/trace-delta.js';
import type { RaceRecord, Storage, TraceAnalysisRecord } from '../src/storage/types.js';
import { ContextRecorder, everyKind, hex, makeTrace, newTraceId } from './fixtures.js';
import { requestTrace } from './ui/seed.js';

const HOUR_US = 3_600_000_000;

/**
 * Storage keeps the analysis results as opaque JSON: the suite stores small stand-ins (the
 * analysis module's real shapes are checked by the API's response schemas).
 */
const opaque = <T>(json: object): T => json as T;

const save = (storage: Storage, record: TraceAnalysisRecord, races: RaceRecord[]) =>
  storage.saveTraceAnalyses([{ record, races }]);

function race(traceA: string, traceB: string | null, over: Partial<RaceRecord> = {}): RaceRecord {
  const id = hex(16);
  return {
    id,
    groupId: id,
    scope: traceB ? 'cross' : 'trace',
    traceA,
    traceB,
    resource: 'stock:sku-1',
    serviceA: 'inventory',
    serviceB: 'billing',
    tsUs: Date.now() * 1000,
    race: opaque({ kind: 'lost_update' }),
    ...over,
  };
}

/**
 * The behaviour every storage backend must have. Run by storage.sqlite.test.ts and
 * storage.postgres.test.ts; each call gets a fresh, empty store from `open`.
 */
export function storageSuite(open: () => Promise<Storage>) {
  let storage: Storage;
  beforeAll(async () => {
    storage = await open();
  });
  afterAll(async () => {
    await storage?.close();
  });

  describe('insertEvents', () => {
    it('stores a batch and counts a retried batch as duplicates', async () => {
      const events = makeTrace();
      const first = await storage.insertEvents(events);
      expect(first).toMatchObject({ accepted: events.length, duplicates: 0 });
      expect(first.inserted.map((e) => e.id)).toEqual(events.map((e) => e.id));
      const again = await storage.insertEvents(events);
      expect(again).toMatchObject({ accepted: 0, duplicates: events.length, inserted: [] });
      const stored = await storage.getTraceEvents(events[0]!.trace_id);
      expect(stored).toHaveLength(events.length);
      expect(stored.map((e) => e.ts_us)).toEqual(
        [...stored.map((e) => e.ts_us)].sort((a, b) => a - b),
      );
      const summary = await storage.getTrace(events[0]!.trace_id);
      expect(summary?.eventCount).toBe(events.length);
    });

    it('counts an id repeated inside one batch once', async () => {
      const [a, b] = makeTrace();
      const result = await storage.insertEvents([a!, b!, a!]);
      expect(result).toMatchObject({ accepted: 2, duplicates: 1 });
    });

    it('keeps every field of every kind of event exactly', async () => {
      const events = everyKind();
      await storage.insertEvents(events);
      const stored = await storage.getTraceEvents(events[0]!.trace_id);
      const byId = new Map(stored.map((e) => [e.id, e]));
      for (const e of events) expect(byId.get(e.id)).toEqual(e);
    });

    it('stays consistent under concurrent overlapping batches', async () => {
      const events = Array.from({ length: 6 }, () => makeTrace()).flat();
      const batches = Array.from({ length: 8 }, (_, i) =>
        events.filter((_, j) => (j + i) % 3 !== 0),
      );
      const results = await Promise.all(batches.map((b) => storage.insertEvents(b)));
      const accepted = results.reduce((n, r) => n + r.accepted, 0);
      expect(accepted).toBe(new Set(batches.flat().map((e) => e.id)).size);
      for (const traceId of new Set(events.map((e) => e.trace_id))) {
        const stored = await storage.getTraceEvents(traceId);
        const summary = await storage.getTrace(traceId);
        expect(summary?.eventCount).toBe(stored.length);
      }
    });
  });

  describe('trace summaries', () => {
    it('summarises a trace whatever order its events arrive in', async () => {
      const events = makeTrace({ backendStatus: 503, uninstrumentedHost: 'pay.example' });
      const traceId = events[0]!.trace_id;
      // The backend reports before the frontend: the root must still be the frontend request.
      const backend = events.filter((e) => e.service === 'inventory');
      const frontend = events.filter((e) => e.service === 'frontend');
      await storage.insertEvents(backend);
      await storage.insertEvents(frontend);
      const s = await storage.getTrace(traceId);
      expect(s).toMatchObject({
        traceId,
        rootService: 'frontend',
        rootMethod: 'GET',
        rootRoute: '/checkout/:id',
        services: ['frontend', 'inventory'],
        eventCount: events.length,
        // frontend server span, two client spans, backend server span
        spanCount: 4,
        // backend 503 answer, the 503 the frontend received, the frontend's 502
        errorCount: 3,
        firstTsUs: Math.min(...events.map((e) => e.ts_us)),
        lastTsUs: Math.max(...events.map((e) => e.ts_us)),
        version: 2,
        analyzedVersion: 0,
      });
    });

    it('returns null for an unknown trace', async () => {
      expect(await storage.getTrace(newTraceId())).toBeNull();
      expect(await storage.getTraceEvents(newTraceId())).toEqual([]);
    });

    it('pages the events of a trace by event id, without gaps or repeats', async () => {
      const traceId = newTraceId();
      const events = [...makeTrace(), ...makeTrace()].map((e, i) => ({
        ...e,
        trace_id: traceId,
        id: hex(16),
        ts_us: e.ts_us + i,
      }));
      await storage.insertEvents(events);
      const seen: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page = await storage.getTraceEventsPage(traceId, after, 5);
        seen.push(...page.map((e) => e.id));
        if (page.length < 5) break;
        after = page[page.length - 1]!.id;
      }
      expect(seen).toEqual(events.map((e) => e.id).sort());
      expect(await storage.getTraceEventsPage(newTraceId(), null, 5)).toEqual([]);
    });
  });

  describe('listTraces', () => {
    const base = Date.UTC(2020, 0, 1) * 1000;
    const ids: string[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 7; i++) {
        const events = makeTrace({
          startUs: base + i * 1_000_000,
          frontend: i % 2 ? 'web' : 'mobile',
          backendStatus: i === 3 ? 500 : 200,
        });
        ids.push(events[0]!.trace_id);
        await storage.insertEvents(events);
      }
    });
    const window = { fromUs: base, toUs: base + HOUR_US };

    it('lists newest first and pages with a cursor without gaps or repeats', async () => {
      const seen: string[] = [];
      let after: Awaited<ReturnType<Storage['listTraces']>>['next'] = null;
      do {
        const page = await storage.listTraces({ ...window, limit: 3, after: after ?? undefined });
        seen.push(...page.traces.map((t) => t.traceId));
        after = page.next;
      } while (after);
      expect(seen).toEqual([...ids].reverse());
    });

    it('filters by service, status, time and races', async () => {
      const web = await storage.listTraces({ ...window, service: 'web', limit: 100 });
      expect(web.traces.map((t) => t.traceId).sort()).toEqual(ids.filter((_, i) => i % 2).sort());
      const errors = await storage.listTraces({ ...window, status: 'error', limit: 100 });
      expect(errors.traces.map((t) => t.traceId)).toEqual([ids[3]]);
      const ok = await storage.listTraces({ ...window, status: 'ok', limit: 100 });
      expect(ok.traces).toHaveLength(6);
      const early = await storage.listTraces({ fromUs: base, toUs: base + 1_500_000, limit: 100 });
      expect(early.traces.map((t) => t.traceId).sort()).toEqual(ids.slice(0, 2).sort());
      expect((await storage.listTraces({ ...window, hasRaces: true, limit: 100 })).traces).toEqual(
        [],
      );
      await storage.saveCrossTraceRaces([race(ids[1]!, ids[2]!)]);
      const raced = await storage.listTraces({ ...window, hasRaces: true, limit: 100 });
      expect(raced.traces.map((t) => t.traceId).sort()).toEqual([ids[1], ids[2]].sort());
    });

    it('filters by route text and duration, alike on every backend, and pages through the matches', async () => {
      const start = Date.UTC(2019, 0, 1) * 1000;
      const at = (i: number) => start + i * 1_000_000;
      const routes = ['/Checkout/:id', '/browse', '/café/checkout', '/CAFÉ/x', '/a_b%c', '/axbyc'];
      const traces = routes.map((route, i) =>
        requestTrace({ route, startUs: at(i), durationMs: 10 * (i + 1) }),
      );
      for (const events of traces) await storage.insertEvents(events);
      const idOf = (i: number) => traces[i]![0]!.trace_id;
      const scope = { fromUs: start, toUs: start + HOUR_US, limit: 100 };
      const list = async (extra: Partial<Parameters<Storage['listTraces']>[0]>) =>
        (await storage.listTraces({ ...scope, ...extra })).traces.map((t) => t.traceId).sort();

      // ASCII letters in any case; other letters as written (SQLite's lower() and PostgreSQL's
      // lower() differ beyond ASCII, so neither backend folds them).
      expect(await list({ route: 'CHECKOUT' })).toEqual([idOf(0), idOf(2)].sort());
      expect(await list({ route: 'café' })).toEqual([idOf(2)]);
      expect(await list({ route: 'CAFÉ' })).toEqual([idOf(3)]);
      // LIKE's wildcards are plain text here.
      expect(await list({ route: '_b%' })).toEqual([idOf(4)]);
      // Durations 10, 20, ... 60 ms; bounds are inclusive and may have fractions.
      expect(await list({ minDurationMs: 20, maxDurationMs: 40 })).toEqual(
        [idOf(1), idOf(2), idOf(3)].sort(),
      );
      expect(await list({ minDurationMs: 19.9995, maxDurationMs: 20.0004 })).toEqual([idOf(1)]);
      expect(await list({ route: 'checkout', minDurationMs: 25 })).toEqual([idOf(2)]);

      // Paging through a filtered listing returns every match once, newest first.
      const seen: string[] = [];
      let after: Awaited<ReturnType<Storage['listTraces']>>['next'] = null;
      do {
        const page = await storage.listTraces({
          ...scope,
          route: 'c',
          limit: 1,
          after: after ?? undefined,
        });
        seen.push(...page.traces.map((t) => t.traceId));
        after = page.next;
      } while (after);
      expect(seen).toEqual([5, 4, 3, 2, 0].map(idOf));
    });

    it('finds traces by an event attribute and by a trace id prefix, and counts the matches', async () => {
      const start = Date.UTC(2018, 0, 1) * 1000;
      const scope = { fromUs: start, toUs: start + HOUR_US, limit: 100 };
      // Ten traces; every third has cart.size=3; one has a number, a boolean and a nested
      // object (not searchable) as attributes.
      const traces = Array.from({ length: 10 }, (_, i) => {
        const events = requestTrace({ route: '/cart', startUs: start + i * 1_000_000 });
        const root = events[0]!;
        const attributes: Record<string, unknown> = { 'cart.size': i % 3 === 0 ? '3' : '1' };
        if (i === 4) Object.assign(attributes, { n: 42, paid: true, nested: { a: 1 } });
        events.push({
          ...root,
          id: hex(16),
          kind: 'custom',
          ts_us: root.ts_us + 10,
          data: { name: 'cart', attributes },
        });
        return events;
      });
      for (const events of traces) await storage.insertEvents(events);
      const idOf = (i: number) => traces[i]![0]!.trace_id;
      const list = async (extra: Partial<Parameters<Storage['listTraces']>[0]>) =>
        (await storage.listTraces({ ...scope, ...extra })).traces.map((t) => t.traceId);

      const threes = [9, 6, 3, 0].map(idOf);
      expect(await list({ attribute: { key: 'cart.size', value: '3' } })).toEqual(threes);
      expect(
        await storage.countTraces({ ...scope, attribute: { key: 'cart.size', value: '3' } }, 100),
      ).toBe(4);
      expect(await list({ attribute: { key: 'n', value: '42' } })).toEqual([idOf(4)]);
      expect(await list({ attribute: { key: 'paid', value: 'true' } })).toEqual([idOf(4)]);
      expect(await list({ attribute: { key: 'nested', value: '[object Object]' } })).toEqual([]);
      expect(await list({ attribute: { key: 'cart.size', value: '33' } })).toEqual([]);
      // Combined with another filter, and paged.
      const paged: string[] = [];
      let after: Awaited<ReturnType<Storage['listTraces']>>['next'] = null;
      do {
        const page = await storage.listTraces({
          ...scope,
          attribute: { key: 'cart.size', value: '3' },
          limit: 3,
          after: after ?? undefined,
        });
        paged.push(...page.traces.map((t) => t.traceId));
        after = page.next;
      } while (after);
      expect(paged).toEqual(threes);

      expect(await list({ traceIdPrefix: idOf(7).slice(0, 12) })).toEqual([idOf(7)]);
      expect(await list({ traceIdPrefix: idOf(7) })).toEqual([idOf(7)]);
      // A one-digit prefix finds exactly the traces starting with it.
      const digit = idOf(2)[0]!;
      expect((await list({ traceIdPrefix: digit })).sort()).toEqual(
        traces
          .map((_, i) => idOf(i))
          .filter((id) => id.startsWith(digit))
          .sort(),
      );

      // Counts ignore the page size and the cursor, and stop past the cap.
      expect(await storage.countTraces({ ...scope, limit: 1 }, 100)).toBe(10);
      expect(await storage.countTraces({ ...scope, limit: 1 }, 4)).toBe(5);

      // Retention takes a trace's attributes with it.
      await storage.deleteOlderThan(start + 5_000_000);
      expect(await list({ attribute: { key: 'cart.size', value: '3' } })).toEqual([9, 6].map(idOf));
    });
  });

  describe('reads for analysis', () => {
    it('reads events by kind and state accesses by resource within a time range', async () => {
      const resource = `cart:${hex(4)}`;
      const start = Date.UTC(2021, 5, 1) * 1000;
      const a = makeTrace({ resource, startUs: start });
      const b = makeTrace({ resource, startUs: start + 10_000_000 });
      await storage.insertEvents([...a, ...b]);
      // A retried batch files nothing twice.
      await storage.insertEvents([...a, ...b]);
      const all = await storage.getStateAccesses(resource, start, start + HOUR_US, 100);
      expect(all).toHaveLength(4);
      expect(all.every((e) => e.data.resource === resource)).toBe(true);
      const firstOnly = await storage.getStateAccesses(resource, start, start + 5_000_000, 100);
      expect(firstOnly.map((e) => e.trace_id)).toEqual([a[0]!.trace_id, a[0]!.trace_id]);
      expect(await storage.getStateAccesses(resource, start, start + HOUR_US, 3)).toHaveLength(3);
    });

    it('reads the db_query accesses of a row and column, and the transaction statements of a connection', async () => {
      const start = Date.UTC(2021, 6, 1) * 1000;
      const id = { digest: hex(8) };
      const stock = `products[id=${id.digest}].stock`;
      const price = `products[id=${id.digest}].price`;
      const r = new ContextRecorder('inventory', newTraceId(), null, start);
      const query = (statement: string, extra: Record<string, unknown> = {}) =>
        r.record('db_query', {
          system: 'postgresql',
          statement,
          connection: `conn-${hex(4)}`,
          duration_ms: 1,
          ...extra,
        });
      const begin = query('BEGIN');
      const conn = { connection: begin.data.connection };
      const read = query('SELECT stock, price FROM products WHERE id = $1', {
        ...conn,
        params: [id],
      });
      r.advance(10_000);
      const write = query('UPDATE products SET stock = $1 WHERE id = $2', {
        ...conn,
        params: [{ digest: hex(8) }, id],
      });
      const commit = query('COMMIT', conn);
      const failed = query('UPDATE products SET stock = $1 WHERE id = $2', {
        ...conn,
        params: [{ digest: hex(8) }, id],
        error: { type: 'Error', message: 'deadlock' },
      });
      await storage.insertEvents(r.events);
      // A duplicate batch files nothing twice.
      await storage.insertEvents(r.events);
      const ids = (events: StoredEvent[]) => events.map((e) => e.id);
      expect(ids(await storage.getStateAccesses(stock, start, start + HOUR_US, 100))).toEqual([
        write.id,
        read.id,
      ]);
      expect(ids(await storage.getStateAccesses(stock, start, read.ts_us, 100))).toEqual([read.id]);
      expect(ids(await storage.getStateAccesses(stock, start, start + HOUR_US, 1))).toEqual([
        write.id,
      ]);
      const key = sqlConnectionKey(sqlConnectionOf(begin)!);
      const many = await storage.getStateAccessesMany(
        [
          { resource: price, fromUs: start, toUs: start + HOUR_US },
          { resource: key, fromUs: start, toUs: start + HOUR_US },
        ],
        100,
      );
      expect(ids(many.get(price)!)).toEqual([read.id]);
      expect(ids(many.get(key)!)).toEqual([commit.id, begin.id]);
      expect(ids(await storage.getTraceEvents(r.events[0]!.trace_id))).toContain(failed.id);
      // Retention deletes them with their trace.
      await storage.deleteOlderThan(Date.UTC(2021, 6, 2) * 1000);
      expect(await storage.getStateAccesses(stock, start, start + HOUR_US, 100)).toEqual([]);
    });

    it('reads the lock events of given traces', async () => {
      const events = everyKind();
      const other = everyKind();
      await storage.insertEvents([...events, ...other]);
      const locks = await storage.getLockEvents([events[0]!.trace_id]);
      expect(locks.map((e) => e.kind)).toEqual(['lock_acquire', 'lock_release']);
      expect(locks.every((e) => e.trace_id === events[0]!.trace_id)).toBe(true);
      expect(await storage.getLockEvents([newTraceId()])).toEqual([]);
    });
  });

  describe('analysis results', () => {
    it('tracks pending traces by version and stores analyses and races', async () => {
      const events = makeTrace();
      const traceId = events[0]!.trace_id;
      await storage.insertEvents(events.slice(0, 3));
      await storage.insertEvents(events.slice(3));
      const pending = await storage.pendingTraces(100_000);
      expect(pending).toContainEqual({ traceId, version: 2 });

      const r = race(traceId, null, { resource: `res:${hex(3)}` });
      await save(
        storage,
        {
          traceId,
          version: 2,
          analyzedAtMs: 1_700_000_000_000,
          races: [r.race],
          criticalPath: opaque({ segments: [{ service: 'frontend', ms: 3 }] }),
          diagnostics: opaque({ brokenChains: [{ span: 'x' }] }),
          diagnosticCount: 1,
        },
        [r],
      );
      expect((await storage.pendingTraces(100_000)).map((p) => p.traceId)).not.toContain(traceId);
      const analysis = await storage.getTraceAnalysis(traceId);
      expect(analysis).toMatchObject({
        traceId,
        version: 2,
        analyzedAtMs: 1_700_000_000_000,
        diagnosticCount: 1,
        races: [{ kind: 'lost_update' }],
        criticalPath: { segments: [{ service: 'frontend', ms: 3 }] },
      });
      expect((await storage.getTrace(traceId))?.raceCount).toBe(1);
      expect(await storage.listRaces({ traceId, limit: 10 })).toEqual([r]);

      // New events make the trace pending again; re-analysis replaces its races.
      await storage.insertEvents(makeTrace({ traceId }));
      expect((await storage.pendingTraces(100_000)).map((p) => p.traceId)).toContain(traceId);
      await save(
        storage,
        {
          traceId,
          version: 3,
          analyzedAtMs: 1,
          races: [],
          criticalPath: null,
          diagnostics: opaque({}),
          diagnosticCount: 0,
        },
        [],
      );
      expect(await storage.listRaces({ traceId, limit: 10 })).toEqual([]);
      expect((await storage.getTrace(traceId))?.raceCount).toBe(0);
    });

    it('saves several analyses in one call, skipping traces that no longer exist', async () => {
      const a = makeTrace();
      const b = makeTrace();
      await storage.insertEvents([...a, ...b]);
      const record = (traceId: string): TraceAnalysisRecord => ({
        traceId,
        version: 1,
        analyzedAtMs: 7,
        races: [],
        criticalPath: opaque({ traceId }),
        diagnostics: opaque({}),
        diagnosticCount: 0,
      });
      const gone = newTraceId();
      await storage.saveTraceAnalyses([
        { record: record(a[0]!.trace_id), races: [race(a[0]!.trace_id, null)] },
        { record: record(gone), races: [race(gone, null)] },
        { record: record(b[0]!.trace_id), races: [] },
      ]);
      expect((await storage.getTraceAnalysis(a[0]!.trace_id))?.criticalPath).toEqual({
        traceId: a[0]!.trace_id,
      });
      expect((await storage.getTraceAnalysis(b[0]!.trace_id))?.criticalPath).toEqual({
        traceId: b[0]!.trace_id,
      });
      expect(await storage.getTraceAnalysis(gone)).toBeNull();
      expect((await storage.getTrace(a[0]!.trace_id))?.raceCount).toBe(1);
      expect(await storage.listRaces({ traceId: gone, limit: 10 })).toEqual([]);
    });

    it('saves an analysis by its changes when they apply to the stored one, else whole', async () => {
      const events = makeTrace();
      await storage.insertEvents(events);
      const traceId = events[0]!.trace_id;
      const startUs = events[0]!.ts_us;
      const intra = (resource: string, i: number, note = 'first'): RaceRecord => {
        const r = race(traceId, null, { resource, tsUs: startUs + i });
        return { ...r, race: opaque({ id: r.id, resource, firstTsUs: r.tsUs, note }) };
      };
      const record = (
        version: number,
        races: RaceRecord[],
        diagnostics: object,
        criticalPath: object,
      ): TraceAnalysisRecord => ({
        traceId,
        version,
        analyzedAtMs: 1000 + version,
        races: races.map((r) => r.race),
        criticalPath: opaque(criticalPath),
        diagnostics: opaque(diagnostics),
        diagnosticCount: 0,
      });
      const [a, b, c] = [intra('res:a', 1), intra('res:b', 2), intra('res:c', 3)];
      await save(storage, record(1, [a, b], { errors: [], summary: { n: 1 } }, { ms: 1 }), [a, b]);

      // Against the stored analysis: b changed, c is new, a is gone, the summary changed. The
      // item's other contents (a critical path, b's `note`) are not written: only the changes.
      const b2 = { ...b, race: opaque<RaceRecord['race']>({ ...b.race, note: 'second' }) };
      const stale = { ...b, race: opaque<RaceRecord['race']>({ ...b.race, note: 'stale' }) };
      await storage.saveTraceAnalyses([
        {
          record: record(2, [stale, c], { errors: [], summary: { n: 2 } }, { ms: 99 }),
          races: [stale, c],
          changes: {
            base: { version: 1, analyzedAtMs: 1001 },
            races: [b2, c],
            goneRaces: [{ resource: a.resource, id: a.id }],
            parts: [{ name: 'diagnostics.summary', position: 2, body: '{"n":2}' }],
            goneParts: [],
          },
        },
      ]);
      expect(await storage.getTraceAnalysis(traceId)).toEqual({
        ...record(2, [b2, c], { errors: [], summary: { n: 2 } }, { ms: 1 }),
      });
      expect((await storage.listRaces({ traceId, limit: 10 })).map((r) => r.id).sort()).toEqual(
        [b.id, c.id].sort(),
      );
      expect((await storage.getTrace(traceId))?.raceCount).toBe(2);

      // Changes computed against an analysis that is not the stored one: saved whole.
      const whole = { ...record(3, [a], { errors: [{ e: 1 }] }, { ms: 3 }), diagnosticCount: 1 };
      await storage.saveTraceAnalyses([
        {
          record: whole,
          races: [a],
          changes: {
            base: { version: 1, analyzedAtMs: 1001 },
            races: [],
            goneRaces: [],
            parts: [],
            goneParts: [],
          },
        },
      ]);
      expect(await storage.getTraceAnalysis(traceId)).toEqual(whole);
      expect((await storage.listRaces({ traceId, limit: 10 })).map((r) => r.id)).toEqual([a.id]);
      // The diagnostics listing reads the record alike.
      const listed = await storage.listDiagnostics({ limit: 1000 });
      expect(listed.find((d) => d.summary.traceId === traceId)?.analysis).toEqual(whole);
    });

    it('ignores an analysis of a trace that no longer exists', async () => {
      const traceId = newTraceId();
      await save(
        storage,
        {
          traceId,
          version: 1,
          analyzedAtMs: 1,
          races: [],
          criticalPath: null,
          diagnostics: opaque({}),
          diagnosticCount: 0,
        },
        [race(traceId, null)],
      );
      expect(await storage.getTraceAnalysis(traceId)).toBeNull();
      expect(await storage.listRaces({ traceId, limit: 10 })).toEqual([]);
    });

    it('filters races by resource, service, scope, time, and pages them', async () => {
      const resource = `acct:${hex(4)}`;
      const t = [makeTrace(), makeTrace(), makeTrace()];
      for (const events of t) await storage.insertEvents(events);
      const [a, b, c] = t.map((e) => e[0]!.trace_id) as [string, string, string];
      const ts = Date.UTC(2022, 0, 1) * 1000;
      const races = [
        race(a, b, { resource, tsUs: ts, serviceA: 'svc-x', serviceB: 'svc-y' }),
        race(b, c, { resource, tsUs: ts + 1000, serviceA: 'svc-y', serviceB: 'svc-z' }),
        race(a, c, { resource: `${resource}-other`, tsUs: ts + 2000 }),
      ];
      await storage.saveCrossTraceRaces(races);
      // Saving the same race again replaces it.
      await storage.saveCrossTraceRaces([races[0]!]);
      const byResource = await storage.listRaces({ resource, limit: 10 });
      expect(byResource.map((r) => r.id)).toEqual([races[1]!.id, races[0]!.id]);
      const byService = await storage.listRaces({ service: 'svc-z', limit: 10 });
      expect(byService.map((r) => r.id)).toEqual([races[1]!.id]);
      const inTime = await storage.listRaces({ fromUs: ts + 500, toUs: ts + 1500, limit: 10 });
      expect(inTime.map((r) => r.id)).toEqual([races[1]!.id]);
      expect(await storage.listRaces({ scope: 'trace', traceId: a, limit: 10 })).toEqual([]);
      const page1 = await storage.listRaces({ traceId: a, limit: 1 });
      const page2 = await storage.listRaces({
        traceId: a,
        limit: 1,
        after: { tsUs: page1[0]!.tsUs, id: page1[0]!.id },
      });
      expect([...page1, ...page2].map((r) => r.id)).toEqual([races[2]!.id, races[0]!.id]);
      expect((await storage.getTrace(b))?.raceCount).toBe(2);
    });

    it('lists races by group: counted, newest first, filtered and paged by group', async () => {
      const resource = `acct:${hex(4)}`;
      const t = Array.from({ length: 6 }, () => makeTrace());
      for (const events of t) await storage.insertEvents(events);
      const ids = t.map((e) => e[0]!.trace_id);
      const ts = Date.UTC(2022, 6, 1) * 1000;
      const [g1, g2] = [`g1${hex(6)}`, `g2${hex(6)}`];
      // Four instances of g1 (pairs of requests), one of g2 in between, newest last.
      const races = [
        race(ids[0]!, ids[1]!, { resource, tsUs: ts, groupId: g1 }),
        race(ids[1]!, ids[2]!, { resource, tsUs: ts + 1000, groupId: g1 }),
        race(ids[2]!, ids[3]!, { resource, tsUs: ts + 2000, groupId: g2, serviceA: 'svc-q' }),
        race(ids[3]!, ids[4]!, { resource, tsUs: ts + 3000, groupId: g1 }),
        race(ids[4]!, ids[5]!, { resource, tsUs: ts + 4000, groupId: g1 }),
      ];
      await storage.saveCrossTraceRaces(races);
      const groups = await storage.listRaceGroups({ resource, limit: 10 });
      expect(
        groups.map((g) => [g.groupId, g.size, g.firstTsUs, g.lastTsUs, g.instances.length]),
      ).toEqual([
        [g1, 4, ts, ts + 4000, 3],
        [g2, 1, ts + 2000, ts + 2000, 1],
      ]);
      // The newest instances of a group, newest first.
      expect(groups[0]!.instances.map((r) => r.id)).toEqual(
        [races[4]!, races[3]!, races[1]!].map((r) => r.id),
      );
      // Filters count only the matching instances of a group.
      const ofTrace = await storage.listRaceGroups({ traceId: ids[1]!, limit: 10 });
      expect(ofTrace.map((g) => [g.groupId, g.size])).toEqual([[g1, 2]]);
      const ofService = await storage.listRaceGroups({ service: 'svc-q', limit: 10 });
      expect(ofService.map((g) => g.groupId)).toEqual([g2]);
      // Paged by group: (newest instance, group id) of the last group of the page.
      const page1 = await storage.listRaceGroups({ resource, limit: 1 });
      const page2 = await storage.listRaceGroups({
        resource,
        limit: 1,
        after: { tsUs: page1[0]!.lastTsUs, id: page1[0]!.groupId },
      });
      const page3 = await storage.listRaceGroups({
        resource,
        limit: 1,
        after: { tsUs: page2[0]!.lastTsUs, id: page2[0]!.groupId },
      });
      expect([...page1, ...page2, ...page3].map((g) => g.groupId)).toEqual([g1, g2]);
    });

    it('lists traces that have diagnostics', async () => {
      const start = Date.UTC(2023, 0, 1) * 1000;
      const clean = makeTrace({ startUs: start });
      const broken = makeTrace({ startUs: start + 1000 });
      await storage.insertEvents([...clean, ...broken]);
      for (const [events, count] of [
        [clean, 0],
        [broken, 2],
      ] as const) {
        await save(
          storage,
          {
            traceId: events[0]!.trace_id,
            version: 1,
            analyzedAtMs: 5,
            races: [],
            criticalPath: null,
            diagnostics: opaque({ clockSkew: Array(count).fill({}) }),
            diagnosticCount: count,
          },
          [],
        );
      }
      const rows = await storage.listDiagnostics({
        fromUs: start,
        toUs: start + HOUR_US,
        limit: 10,
      });
      expect(rows.map((r) => r.summary.traceId)).toEqual([broken[0]!.trace_id]);
      expect(rows[0]!.analysis.diagnosticCount).toBe(2);
    });
  });

  describe('retention', () => {
    it('deletes whole traces that ended before the cutoff, with their analyses and races', async () => {
      const oldResource = `stock:${hex(4)}`;
      const old = makeTrace({ startUs: Date.UTC(2001, 0, 1) * 1000, resource: oldResource });
      const recent = makeTrace();
      const oldAccesses = () =>
        storage.getStateAccesses(oldResource, 0, Date.UTC(2010, 0, 1) * 1000, 100);
      await storage.insertEvents([...old, ...recent]);
      const oldId = old[0]!.trace_id;
      await save(
        storage,
        {
          traceId: oldId,
          version: 1,
          analyzedAtMs: 1,
          races: [],
          criticalPath: null,
          diagnostics: opaque({}),
          diagnosticCount: 0,
        },
        [race(oldId, null, { tsUs: Date.now() * 1000 })],
      );
      const before = await storage.stats();
      expect(await oldAccesses()).toHaveLength(2);
      const deleted = await storage.deleteOlderThan(Date.UTC(2010, 0, 1) * 1000);
      expect(deleted.traces).toBeGreaterThanOrEqual(1);
      expect(deleted.events).toBeGreaterThanOrEqual(old.length);
      expect(deleted.races).toBeGreaterThanOrEqual(1);
      expect(await storage.getTrace(oldId)).toBeNull();
      expect(await storage.getTraceEvents(oldId)).toEqual([]);
      // Its accesses too, filed by resource.
      expect(await oldAccesses()).toEqual([]);
      expect(await storage.getTraceAnalysis(oldId)).toBeNull();
      expect(await storage.listRaces({ traceId: oldId, limit: 10 })).toEqual([]);
      expect(await storage.getTraceEvents(recent[0]!.trace_id)).toHaveLength(recent.length);
      const after = await storage.stats();
      expect(before.events - after.events).toBe(deleted.events);
      // A stored id that was deleted can be stored again (it is new to the store).
      const again = await storage.insertEvents(old as StoredEvent[]);
      expect(again.accepted).toBe(old.length);
    });
  });

  it('answers ping and stats', async () => {
    await storage.ping();
    const stats = await storage.stats();
    expect(stats.events).toBeGreaterThan(0);
    expect(stats.traces).toBeGreaterThan(0);
  });
}
