import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { startCli } from './cli-process.js';
import { ContextRecorder, newTraceId } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'raceway-durability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One trace of `size` events: a request whose handler reads and writes state. */
function batch(size: number): StoredEvent[] {
  const r = new ContextRecorder('orders', newTraceId(), null, Date.now() * 1000);
  r.record('request_received', {
    method: 'POST',
    path: '/orders',
    incoming: { status: 'absent', reasons: [] },
  });
  while (r.events.length < size) {
    r.record(r.events.length % 2 ? 'state_read' : 'state_write', {
      resource: `order:${r.events.length % 7}`,
      value: r.events.length,
    });
  }
  return r.events;
}

describe('durability', () => {
  it('keeps every acknowledged event when the collector is killed (SIGKILL) mid-stream', async () => {
    const storage = `sqlite:${join(dir, 'raceway.db')}`;
    const cli = await startCli(['serve', '--port', '0', '--storage', storage], { cwd: dir });
    const acked: StoredEvent[][] = [];
    let attempted = 0;
    let killed = false;

    // Four connections send gzip'd batches back to back; the collector is killed once enough
    // batches were acknowledged, with requests still in flight.
    const sender = async () => {
      while (!killed) {
        const events = batch(200);
        attempted++;
        try {
          const res = await fetch(`${cli.url}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
            body: gzipSync(JSON.stringify({ events })),
          });
          if (res.status === 200) acked.push(events);
          await res.arrayBuffer();
        } catch {
          // Connection reset by the kill: this batch was never acknowledged.
        }
      }
    };
    const senders = Array.from({ length: 4 }, sender);
    while (acked.length < 100) await new Promise((r) => setTimeout(r, 5));
    cli.child.kill('SIGKILL');
    killed = true;
    await Promise.all(senders);
    expect(await cli.exited).toBe(null);
    expect(attempted).toBeGreaterThan(acked.length);

    // Restart on the same file: it opens (WAL recovery) and serves every acknowledged trace.
    const again = await startCli(['serve', '--port', '0', '--storage', storage], { cwd: dir });
    try {
      for (const events of acked.slice(-10)) {
        const res = await fetch(`${again.url}/api/traces/${events[0]!.trace_id}`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { event_count: number }).event_count).toBe(events.length);
      }
      const health = (await (await fetch(`${again.url}/healthz`)).json()) as {
        counts: { events: number };
      };
      expect(health.counts.events).toBeGreaterThanOrEqual(acked.length * 200);
      // And every acknowledged id is in the file (ids are stored as 16-byte blobs).
      const db = new Database(join(dir, 'raceway.db'), { readonly: true });
      const has = db
        .prepare('SELECT count(*) AS n FROM events WHERE trace_id = ? AND id = ?')
        .pluck();
      const missing = acked
        .flat()
        .filter((e) => has.get(Buffer.from(e.trace_id, 'hex'), Buffer.from(e.id, 'hex')) !== 1);
      db.close();
      expect(missing).toEqual([]);
    } finally {
      again.child.kill('SIGTERM');
      expect(await again.exited).toBe(0);
    }
  });
});
