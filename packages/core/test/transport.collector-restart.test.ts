// A real collector process (the built `raceway` CLI of @raceway/collector, SQLite on a file)
// crashes while a service records 1,000 events a second, stays down for 30 s, and comes back on
// the same port with the same database: with the default transport settings nothing is lost.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale } from '../../../tooling/build-if-stale.js';
import { Tracer } from '../src/context/tracer.js';

const COLLECTOR_DIR = fileURLToPath(new URL('../../collector/', import.meta.url));
const CLI = join(COLLECTOR_DIR, 'dist', 'cli.js');
const EVENTS_PER_SECOND = 1000;
const UP_BEFORE_MS = 4000;
const DOWN_MS = 30_000;
const UP_AFTER_MS = 4000;

const dir = mkdtempSync(join(tmpdir(), 'raceway-restart-'));
const children: ChildProcess[] = [];

beforeAll(() => buildIfStale([COLLECTOR_DIR]), 120_000);
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Collector {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<unknown>;
}

/** Starts `raceway serve` and resolves with its URL once it printed its start-up line. */
function startCollector(port: number, storage: string): Promise<Collector> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('RACEWAY_')),
  );
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--port', String(port), '--storage', storage],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk) => {
    err += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start: ${err}`)), 15_000);
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      const url = (match[1] as string).replace(/\/$/, '');
      resolve({ url, port: Number(new URL(url).port), child, exited });
    });
    void exited.then(() => reject(new Error(`collector exited before listening: ${err}`)));
  });
}

async function storedEvents(url: string): Promise<number> {
  const health = (await (await fetch(`${url}/healthz`)).json()) as { counts: { events: number } };
  return health.counts.events;
}

describe('delivery across a collector restart', () => {
  it('loses no event of 1,000 events/s while the collector is down for 30 s', async () => {
    const storage = `sqlite:${join(dir, 'raceway.db')}`;
    const first = await startCollector(0, storage);
    // Default options: this is the promise the README makes.
    const tracer = new Tracer({ serviceName: 'load', serverUrl: first.url }, { env: {} });
    const transport = tracer.transport;
    if (transport === null) throw new Error('tracer has no transport');

    // Events at a steady 1,000/s whatever the timer drift: each tick catches up to the clock.
    const startedAt = Date.now();
    let recorded = 0;
    let ctx = tracer.startContext({});
    const producer = setInterval(() => {
      const due = Math.floor(((Date.now() - startedAt) * EVENTS_PER_SECOND) / 1000);
      while (recorded < due) {
        // A new request every 10 events.
        if (recorded % 10 === 0) ctx = tracer.startContext({});
        ctx.record('custom', { name: 'tick', attributes: { n: recorded } });
        recorded++;
      }
    }, 10);

    try {
      await new Promise((resolve) => setTimeout(resolve, UP_BEFORE_MS));
      first.child.kill('SIGKILL');
      await first.exited;
      const recordedAtCrash = recorded;
      await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
      const second = await startCollector(first.port, storage);
      const recordedWhileDown = recorded - recordedAtCrash;
      await new Promise((resolve) => setTimeout(resolve, UP_AFTER_MS));
      clearInterval(producer);

      await transport.flush({ timeoutMs: 20_000 });
      const stats = transport.stats();
      expect(recordedWhileDown).toBeGreaterThan(28_000);
      expect(stats).toMatchObject({ queued: 0, dropped: 0, sent: recorded });
      expect(stats.retries).toBeGreaterThan(0);
      // The collector's own count, after a restart on the same file: every event once.
      expect(await storedEvents(second.url)).toBe(recorded);
    } finally {
      clearInterval(producer);
      await transport.shutdown({ timeoutMs: 1000 });
    }
  }, 90_000);
});
