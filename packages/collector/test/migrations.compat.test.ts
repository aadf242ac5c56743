import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startCollector } from '../src/server.js';
import {
  answersV1,
  copySqliteV1,
  loadPostgresV1,
  RETENTION,
  readAnswers,
  readStorage,
} from './fixtures/v1/fixture.js';
import { createTestDatabase, getJson, makeTrace, postBatch } from './fixtures.js';

// Databases written by the collector before versioned migrations (schema version 1, no
// version recorded; see fixtures/v1/generate.ts), opened by this collector: every trace, race
// and analysis answers as that collector answered, and ingestion goes on.

const dir = mkdtempSync(join(tmpdir(), 'raceway-compat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readsBackAndIngests(storage: string) {
  const expected = answersV1();
  const collector = await startCollector({
    port: 0,
    storage,
    retention: RETENTION,
    analysisDelayMs: 60_000,
  });
  try {
    // Storage reads back exactly what it read then.
    expect(await readStorage(collector.storage)).toEqual(expected.storage);
    // The API answers every field it answered then, with the same value (it may answer more:
    // fields added since are not a change of the stored data).
    const answers = await readAnswers(collector.url);
    expect(Object.keys(answers)).toEqual(Object.keys(expected.http));
    for (const [path, answer] of Object.entries(expected.http)) {
      expect({ path, answer: answers[path] }).toMatchObject({ path, answer });
    }
    // Nothing was left to analyse, and new traces are stored and analysed as usual.
    expect((await getJson(`${collector.url}/api/analysis/status`)).json.pending_traces).toBe(0);
    const events = makeTrace();
    expect((await postBatch(collector.url, { events })).status).toBe(200);
    await collector.analyzeNow();
    const trace = await getJson(`${collector.url}/api/traces/${events[0]!.trace_id}`);
    expect(trace.json).toMatchObject({ event_count: events.length, analysis: 'done' });
    const stats = await collector.storage.stats();
    expect(stats.traces).toBe(
      (expected.http['/api/traces?limit=500'] as { traces: unknown[] }).traces.length + 1,
    );
  } finally {
    await collector.close();
  }
}

describe('a SQLite database of the collector before versioned migrations', () => {
  it('reads back every trace, race and analysis as that collector did', async () => {
    await readsBackAndIngests(`sqlite:${copySqliteV1(join(dir, 'v1.db'))}`);
  });
});

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

describe.skipIf(!adminUrl)(
  `a PostgreSQL database of the collector before versioned migrations${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('reads back every trace, race and analysis as that collector did', async () => {
      const url = await createTestDatabase(adminUrl!);
      await loadPostgresV1(url);
      await readsBackAndIngests(url);
    });
  },
);
