import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { diagnostics } from '../../test/analysis-results.js';
import { makeTrace } from '../../test/fixtures.js';
import type { StoredEvent } from '../event.js';
import { SqliteStorage } from '../storage/sqlite.js';
import type { Storage } from '../storage/types.js';
import { AnalysisScheduler } from './analysis-scheduler.js';
import type { AnalysisEngine } from './engine.js';

/** Records each trace it analyses, with what `when` says at that moment. */
function countingEngine(when: () => string = () => '') {
  const seen: string[] = [];
  const engine: AnalysisEngine = {
    analyzeTrace(events) {
      seen.push(`${events[0]!.trace_id}${when()}`);
      return {
        traceId: events[0]!.trace_id,
        races: [],
        criticalPath: null,
        diagnostics: diagnostics(),
      };
    },
    detectCrossTraceRaces: () => [],
  };
  return { engine, seen };
}

const open: SqliteStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/**
 * A store whose reads of events wait for `gate`: the analysis of a chunk lasts until the test
 * opens it. Events are not kept in memory (maxCachedEvents 0), so they are read back.
 */
async function slowStore(gate: Promise<void>) {
  const store = new SqliteStorage(':memory:');
  await store.init();
  open.push(store);
  const read = store.getEventsOfTraces.bind(store);
  store.getEventsOfTraces = async (ids) => {
    await gate;
    return read(ids);
  };
  return store;
}

async function ingest(store: SqliteStorage, scheduler: AnalysisScheduler, events: StoredEvent[]) {
  scheduler.onStored((await store.insertEvents(events)).inserted);
}

describe('AnalysisScheduler leases', () => {
  it('renews the leases of an analysis that outlives them, and stops once they are released', async () => {
    const log: string[] = [];
    let opened!: () => void;
    const gate = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const store = await slowStore(gate);
    store.renewTraces = async (ids) => {
      log.push(`renew ${ids.join()}`);
      // The read ends after the lease was renewed three times: three lease lengths.
      if (log.length === 3) opened();
      return ids;
    };
    // Typed as any storage: SQLite's own release takes no arguments (it has no leases).
    (store as Storage).releaseTraces = async (ids) => {
      log.push(`release ${ids.join()}`);
    };
    const { engine, seen } = countingEngine();
    const scheduler = new AnalysisScheduler({
      storage: store,
      engine,
      delayMs: 60_000,
      leaseMs: 30,
      maxCachedEvents: 0,
    });
    await scheduler.start();
    const events = makeTrace();
    const id = events[0]!.trace_id;
    await ingest(store, scheduler, events);
    const status = await scheduler.runNow();
    expect(status).toMatchObject({ traces_analyzed: 1, pending_traces: 0, failures: 0 });
    expect(seen).toEqual([id]);
    expect(log.slice(0, 3)).toEqual([`renew ${id}`, `renew ${id}`, `renew ${id}`]);
    // Several lease lengths later, nothing was renewed after the release.
    await sleep(150);
    expect(log.at(-1)).toBe(`release ${id}`);
    await scheduler.stop();
  });

  it('does not save an analysis whose lease another collector took over meanwhile', async () => {
    let opened!: () => void;
    const gate = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const store = await slowStore(gate);
    let renewals = 0;
    store.renewTraces = async (ids) => {
      // The first renewal finds the lease taken (this process stalled past it), and the read
      // ends once that is known; later renewals, of a new claim, keep it.
      if (++renewals > 1) return ids;
      setImmediate(opened);
      return [];
    };
    // Which claim each save and analysis happened under.
    let claims = 0;
    const claim = store.claimTraces.bind(store);
    store.claimTraces = async (ids) => {
      claims++;
      return claim(ids);
    };
    const saved: string[] = [];
    const save = store.saveTraceAnalyses.bind(store);
    store.saveTraceAnalyses = async (items) => {
      saved.push(...items.map((item) => `${item.record.traceId} claim ${claims}`));
      return save(items);
    };
    const { engine, seen } = countingEngine(() => ` claim ${claims}`);
    const scheduler = new AnalysisScheduler({
      storage: store,
      engine,
      delayMs: 60_000,
      leaseMs: 30,
      maxCachedEvents: 0,
    });
    await scheduler.start();
    const events = makeTrace();
    const id = events[0]!.trace_id;
    await ingest(store, scheduler, events);
    const status = await scheduler.runNow();
    // Not analysed or saved under the lost lease; analysed, saved and counted once under the
    // next claim.
    expect(seen).toEqual([`${id} claim 2`]);
    expect(saved).toEqual([`${id} claim 2`]);
    expect(status).toMatchObject({ traces_analyzed: 1, pending_traces: 0, failures: 0 });
    await scheduler.stop();
  });
});
