import { afterEach, describe, expect, it } from 'vitest';
import { criticalPath, diagnostics } from '../../test/analysis-results.js';
import { makeTrace } from '../../test/fixtures.js';
import type { StoredEvent } from '../event.js';
import { SqliteStorage } from '../storage/sqlite.js';
import { ANALYSIS_SLICE_MS, AnalysisScheduler } from './analysis-scheduler.js';
import type { AnalysisEngine } from './engine.js';

/** Records what it was asked to analyse; throws for traces listed in `failFor`. */
function recordingEngine(failFor = new Set<string>()) {
  const seen: StoredEvent[][] = [];
  const engine: AnalysisEngine = {
    analyzeTrace(events) {
      const traceId = events[0]!.trace_id;
      if (failFor.has(traceId)) throw new Error('analysis bug');
      seen.push(events);
      return {
        traceId,
        races: [],
        criticalPath: criticalPath(events, events.length),
        diagnostics: diagnostics(),
      };
    },
    detectCrossTraceRaces: () => [],
  };
  return { engine, seen };
}

const open: SqliteStorage[] = [];
async function storage() {
  const s = new SqliteStorage(':memory:');
  await s.init();
  open.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function ingest(store: SqliteStorage, scheduler: AnalysisScheduler, events: StoredEvent[]) {
  const result = await store.insertEvents(events);
  scheduler.onStored(result.inserted);
}

const sorted = (events: StoredEvent[]) =>
  [...events].sort((a, b) => a.ts_us - b.ts_us || (a.id < b.id ? -1 : 1));

describe('AnalysisScheduler', () => {
  it('analyses every event of a trace, from memory or read back, with the same result', async () => {
    for (const maxCachedEvents of [200_000, 0]) {
      const store = await storage();
      const { engine, seen } = recordingEngine();
      const scheduler = new AnalysisScheduler({
        storage: store,
        engine,
        delayMs: 60_000,
        maxCachedEvents,
      });
      await scheduler.start();
      const events = makeTrace();
      await ingest(store, scheduler, events.slice(0, 4));
      await ingest(store, scheduler, events.slice(4));
      expect(scheduler.status().pending_traces).toBe(1);
      const status = await scheduler.runNow();
      expect(status).toMatchObject({ pending_traces: 0, traces_analyzed: 1, failures: 0 });
      expect(seen).toEqual([sorted(events)]);
      const summary = await store.getTrace(events[0]!.trace_id);
      expect(summary?.analyzedVersion).toBe(summary?.version);
      await scheduler.stop();
    }
  });

  it('analyses a trace again when late events arrive', async () => {
    const store = await storage();
    const { engine, seen } = recordingEngine();
    const scheduler = new AnalysisScheduler({ storage: store, engine, delayMs: 60_000 });
    await scheduler.start();
    const events = makeTrace();
    await ingest(store, scheduler, events.slice(0, 3));
    await scheduler.runNow();
    await ingest(store, scheduler, events.slice(3));
    expect(scheduler.status().pending_traces).toBe(1);
    await scheduler.runNow();
    expect(seen.map((e) => e.length)).toEqual([3, events.length]);
    expect((await store.getTraceAnalysis(events[0]!.trace_id))?.criticalPath).toMatchObject({
      totalMs: events.length,
    });
    await scheduler.stop();
  });

  it('picks up traces a previous process left unanalysed', async () => {
    const store = await storage();
    const events = makeTrace();
    await store.insertEvents(events);
    const { engine, seen } = recordingEngine();
    const scheduler = new AnalysisScheduler({ storage: store, engine, delayMs: 60_000 });
    await scheduler.start();
    expect(scheduler.status().pending_traces).toBe(1);
    await scheduler.runNow();
    expect(seen).toEqual([sorted(events)]);
    await scheduler.stop();
  });

  it('counts a failing analysis, reports it, and goes on with the other traces', async () => {
    const store = await storage();
    const bad = makeTrace();
    const good = makeTrace();
    const { engine, seen } = recordingEngine(new Set([bad[0]!.trace_id]));
    const errors: string[] = [];
    const scheduler = new AnalysisScheduler({
      storage: store,
      engine,
      delayMs: 60_000,
      onError: (_error, what) => errors.push(what),
    });
    await scheduler.start();
    await ingest(store, scheduler, [...bad, ...good]);
    const status = await scheduler.runNow();
    expect(status).toMatchObject({ failures: 1, traces_analyzed: 1, pending_traces: 0 });
    expect(errors).toEqual([`analysis of trace ${bad[0]!.trace_id}`]);
    expect(seen.map((e) => e[0]!.trace_id)).toEqual([good[0]!.trace_id]);
    // Recorded with its failure, so a restart does not try it again.
    expect(await store.pendingTraces(10)).toEqual([]);
    expect((await store.getTraceAnalysis(bad[0]!.trace_id))?.diagnostics).toMatchObject({
      analysisLimits: [
        { kind: 'analysis_failed', explanation: expect.stringMatching(/analysis bug/) },
      ],
    });
    await scheduler.stop();
  });

  it('gives the event loop a turn between traces once an analysis slice is used up', async () => {
    const store = await storage();
    // Turns of the event loop so far: a callback re-queued with setImmediate, as ingestion's
    // I/O callbacks are queued behind the analysis.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const turnSeen: number[] = [];
    const engine: AnalysisEngine = {
      analyzeTrace(events) {
        turnSeen.push(turns);
        // Each analysis holds the event loop longer than a slice.
        const until = performance.now() + ANALYSIS_SLICE_MS * 2;
        while (performance.now() < until);
        return {
          traceId: events[0]!.trace_id,
          races: [],
          criticalPath: null,
          diagnostics: diagnostics(),
        };
      },
      detectCrossTraceRaces: () => [],
    };
    const scheduler = new AnalysisScheduler({ storage: store, engine, delayMs: 60_000 });
    await scheduler.start();
    await ingest(store, scheduler, [...makeTrace(), ...makeTrace(), ...makeTrace()]);
    await scheduler.runNow();
    counting = false;
    // The three traces are one chunk: without a turn between them, all see the same count.
    expect(turnSeen).toHaveLength(3);
    expect(turnSeen[1]).toBeGreaterThan(turnSeen[0]!);
    expect(turnSeen[2]).toBeGreaterThan(turnSeen[1]!);
    await scheduler.stop();
  });
});
