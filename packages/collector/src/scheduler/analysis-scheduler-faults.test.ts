import { afterEach, describe, expect, it, vi } from 'vitest';
import { diagnostics } from '../../test/analysis-results.js';
import { SqliteStorage } from '../storage/sqlite.js';
import { AnalysisScheduler } from './analysis-scheduler.js';
import type { AnalysisEngine } from './engine.js';

const engine: AnalysisEngine = {
  analyzeTrace: (events) => ({
    traceId: events[0]!.trace_id,
    races: [],
    criticalPath: null,
    diagnostics: diagnostics(),
  }),
  detectCrossTraceRaces: () => [],
};

const open: SqliteStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('AnalysisScheduler when storage fails', () => {
  it('reports a failed read of the backlog from a periodic pass, without rejecting', async () => {
    const store = new SqliteStorage(':memory:');
    await store.init();
    open.push(store);
    // A full first page of unanalysed traces (so more are to be loaded after it), then the
    // database goes away.
    let reads = 0;
    store.pendingTraces = async (limit) => {
      if (reads++ > 0) throw new Error('Connection terminated unexpectedly');
      return Array.from({ length: limit }, (_, i) => ({
        traceId: i.toString(16).padStart(32, '0'),
        version: 1,
      }));
    };
    const failures: string[] = [];
    const scheduler = new AnalysisScheduler({
      storage: store,
      engine,
      delayMs: 0,
      intervalMs: 10,
      onError: (_error, what) => failures.push(what),
    });
    await scheduler.start();
    await vi.waitFor(() => expect(failures).toContain('loading unanalysed traces'), 10_000);
    await expect(scheduler.stop()).resolves.toBeUndefined();
  });
});
