import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { startCollector } from '../src/server.js';
import { getJson, hex, makeTrace, newTraceId, postBatch } from './fixtures.js';

// The analysis under hostile and busy input, through a real collector: a trace of thousands
// of concurrent writers on one resource (k^2/2 racing pairs if enumerated), restarts with such
// a trace stored, and traces whose events keep arriving while they are analysed.

const dir = mkdtempSync(join(tmpdir(), 'raceway-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** k contexts of one trace, each writing one resource once, none synchronised with another. */
function concurrentWriters(k: number, traceId = newTraceId()): StoredEvent[] {
  const startUs = Date.now() * 1000 - 60_000_000;
  return Array.from({ length: k }, (_, i) => {
    const component = `writer#${hex(6)}`;
    return {
      id: hex(16),
      trace_id: traceId,
      span_id: hex(8),
      parent_span_id: null,
      service: 'writer',
      instance: 'writer-1',
      component,
      ts_us: startUs + i,
      kind: 'state_write',
      clock: { [component]: 1 },
      data: { resource: 'stock:1', value: i },
    } satisfies StoredEvent;
  });
}

async function postAll(url: string, events: StoredEvent[]) {
  for (let i = 0; i < events.length; i += 5000) {
    const { status } = await postBatch(url, { events: events.slice(i, i + 5000) });
    expect(status).toBe(200);
  }
}

describe('analysis under load', () => {
  for (const k of [2000, 20_000]) {
    it(`analyses ${k} concurrent writers in one trace as one group while ingestion answers`, async () => {
      const collector = await startCollector({
        port: 0,
        storage: `sqlite:${join(dir, `writers-${k}.db`)}`,
        analysisDelayMs: 0,
      });
      try {
        const events = concurrentWriters(k);
        await postAll(collector.url, events);
        // The background pass picks the trace up now; ingestion and health keep answering.
        const during = await Promise.all([
          postBatch(collector.url, { events: makeTrace() }),
          getJson(`${collector.url}/healthz`),
        ]);
        expect(during.map((r) => r.status)).toEqual([200, 200]);
        await collector.analyzeNow();
        const { json } = await getJson(`${collector.url}/api/traces/${events[0]!.trace_id}/races`);
        expect(json.analysis).toBe('done');
        expect(json.races).toHaveLength(1);
        expect(json.races[0]).toMatchObject({
          kind: 'write_write',
          resource: 'stock:1',
          count: k - 1,
          count_exact: false,
        });
        expect(json.races[0].examples).toHaveLength(3);
        const { json: diagnostics } = await getJson(
          `${collector.url}/api/traces/${events[0]!.trace_id}/diagnostics`,
        );
        expect(diagnostics.diagnostics.analysisLimits).toEqual([
          expect.objectContaining({ kind: 'bounded_detector', contexts: k }),
        ]);
        expect((await getJson(`${collector.url}/healthz`)).status).toBe(200);
      } finally {
        await collector.close();
      }
    });
  }

  it('starts healthy within 5 s with such a trace stored, and does not analyse it again', async () => {
    const storage = `sqlite:${join(dir, 'restart.db')}`;
    const events = concurrentWriters(20_000);
    // Stored but never analysed (the analysis delay is longer than the collector lives).
    const first = await startCollector({ port: 0, storage, analysisDelayMs: 3_600_000 });
    await postAll(first.url, events);
    await first.close();

    const startedAt = Date.now();
    const second = await startCollector({ port: 0, storage, analysisDelayMs: 0 });
    try {
      expect((await getJson(`${second.url}/healthz`)).status).toBe(200);
      expect(Date.now() - startedAt).toBeLessThan(5000);
      const status = await second.analyzeNow();
      expect(status).toMatchObject({ pending_traces: 0, failures: 0 });
    } finally {
      await second.close();
    }

    const third = await startCollector({ port: 0, storage, analysisDelayMs: 0 });
    try {
      expect((await getJson(`${third.url}/api/analysis/status`)).json.pending_traces).toBe(0);
      const { json } = await getJson(`${third.url}/api/traces/${events[0]!.trace_id}`);
      expect(json.analysis).toBe('done');
    } finally {
      await third.close();
    }
  });

  it('ends with every trace analysed when events keep arriving during analysis', async () => {
    const collector = await startCollector({
      port: 0,
      storage: `sqlite:${join(dir, 'arriving.db')}`,
      analysisDelayMs: 5,
    });
    try {
      const traces = Array.from({ length: 300 }, () => makeTrace());
      // Each trace arrives in three parts; background passes and explicit runs interleave
      // with the ingestion of the later parts.
      const parts = [0, 1, 2].map((part) =>
        traces.flatMap((trace) => {
          const third = Math.ceil(trace.length / 3);
          return trace.slice(part * third, (part + 1) * third);
        }),
      );
      for (const part of parts) {
        const runs: Array<Promise<unknown>> = [collector.analyzeNow()];
        for (let i = 0; i < part.length; i += 250) {
          runs.push(postBatch(collector.url, { events: part.slice(i, i + 250) }));
          if (i % 1000 === 0)
            runs.push(fetch(`${collector.url}/api/analysis/run`, { method: 'POST' }));
        }
        await Promise.all(runs);
      }
      const res = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
      expect(res.status).toBe(200);
      const pending: string[] = [];
      for (const trace of traces) {
        const { json } = await getJson(`${collector.url}/api/traces/${trace[0]!.trace_id}`);
        if (json.analysis !== 'done') pending.push(trace[0]!.trace_id);
        expect(json.event_count).toBe(trace.length);
      }
      expect(pending).toEqual([]);
    } finally {
      await collector.close();
    }
  });
});
