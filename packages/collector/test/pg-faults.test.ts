import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { encodeExportRequest } from '../src/otlp/proto.js';
import { type RunningCli, startCli } from './cli-process.js';
import { getJson, type Json, makeTrace } from './fixtures.js';
import { findPgBin, PgCluster } from './pg-cluster.js';

// These tests stop and restart PostgreSQL, so each one runs its own cluster (not the shared
// one of pg-global-setup.ts) and the collector as a child process: a crash is an exit code.
const bin = findPgBin();
const skipReason =
  'no PostgreSQL found (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH)';
if (!bin && process.env.RACEWAY_REQUIRE_PG === '1') {
  throw new Error(`RACEWAY_REQUIRE_PG=1 but ${skipReason}`);
}

/** How fast ingestion must work again once PostgreSQL accepts connections. */
const RECOVERY_LIMIT_MS = 5000;

interface Attempt {
  sentAt: number;
  doneAt: number;
  /** HTTP status, or 0 when the request failed without an answer (collector gone). */
  status: number;
}

/**
 * Senders posting batches back to back, as SDKs do: a batch not acknowledged (any answer but
 * 200) is retried after a short pause; every attempt is recorded.
 */
class Load {
  readonly acked: StoredEvent[][] = [];
  readonly attempts: Attempt[] = [];
  private stopped = false;
  private readonly senders: Promise<void>[];

  constructor(
    private readonly url: string,
    concurrency = 4,
    private readonly tracesPerBatch = 5,
  ) {
    this.senders = Array.from({ length: concurrency }, () => this.send());
  }

  private async send(): Promise<void> {
    while (!this.stopped) {
      const events = Array.from({ length: this.tracesPerBatch }, () => makeTrace()).flat();
      for (let done = false; !done && !this.stopped; ) {
        done = await this.post(events);
        if (!done) await sleep(20);
      }
    }
  }

  private async post(events: StoredEvent[]): Promise<boolean> {
    const sentAt = Date.now();
    let status = 0;
    try {
      const res = await fetch(`${this.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      // No answer at all: the collector is gone (or reset the connection).
    }
    this.attempts.push({ sentAt, doneAt: Date.now(), status });
    if (status === 200) this.acked.push(events);
    return status === 200;
  }

  /** Resolves once `count` more batches were acknowledged after the call. */
  async moreAcks(count: number, timeoutMs = 15_000): Promise<void> {
    const target = this.acked.length + count;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < target) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} batches acknowledged`);
      await sleep(5);
    }
  }

  /** The first acknowledged attempt answered after `since` (ms since the epoch). */
  firstAckAfter(since: number): Attempt | undefined {
    return this.attempts.find((a) => a.status === 200 && a.doneAt >= since);
  }

  /** Statuses of the attempts sent and answered within [from, to], counted by status. */
  statusesBetween(from: number, to: number): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const a of this.attempts) {
      if (a.sentAt >= from && a.doneAt <= to) counts[a.status] = (counts[a.status] ?? 0) + 1;
    }
    return counts;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.senders);
  }
}

/** How many of the acknowledged events the database holds, and how many were acknowledged. */
async function countStored(url: string, acked: StoredEvent[][]) {
  const events = acked.flat();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM events e
       JOIN unnest($1::text[], $2::text[]) AS a (trace_id, id)
         ON e.trace_id = a.trace_id AND e.id = a.id`,
      [events.map((e) => e.trace_id), events.map((e) => e.id)],
    );
    return { acknowledged: events.length, stored: rows[0].n as number };
  } finally {
    await client.end();
  }
}

/**
 * Holds an exclusive lock on `table` from another session: the collector's transactions that
 * write it wait, holding their connections, so the server is stopped with work in flight
 * (not between two batches). The lock lasts until the server goes away.
 */
async function blockWrites(url: string, table: string) {
  const holder = new pg.Client({ connectionString: url });
  holder.on('error', () => {}); // This session dies with the server, as intended.
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
  return {
    /**
     * Resolves once another session waits for the lock. Asked from a session of its own: in
     * the holder's transaction, PostgreSQL answers from the activity snapshot of its first
     * query, which never shows a waiter that came later.
     */
    async waiters(timeoutMs = 15_000): Promise<void> {
      const watcher = new pg.Client({ connectionString: url });
      await watcher.connect();
      try {
        for (const deadline = Date.now() + timeoutMs; ; await sleep(5)) {
          const { rows } = await watcher.query(
            'SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted',
            [table],
          );
          if (rows[0].n > 0) return;
          if (Date.now() > deadline) {
            throw new Error(`no session waited for the lock on ${table} within ${timeoutMs} ms`);
          }
        }
      } finally {
        await watcher.end();
      }
    },
  };
}

/** How many events the database holds for `traceId`. */
async function storedEventsOf(url: string, traceId: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      'SELECT count(*)::int AS n FROM events WHERE trace_id = $1',
      [traceId],
    );
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

/** An OTLP ExportTraceServiceRequest holding one server span, as OTLP/JSON (ids in hex). */
function otlpRequest(traceId: string, spanId: string) {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'inventory' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId,
                spanId,
                name: 'GET /items',
                kind: 2,
                startTimeUnixNano: String(nowNs - 5_000_000n),
                endTimeUnixNano: String(nowNs),
                attributes: [{ key: 'http.route', value: { stringValue: '/items' } }],
              },
            ],
          },
        ],
      },
    ],
  };
}

/** Trace `5a1f…0n`'s request as protobuf (ids as bytes), and as OTLP/JSON. */
function otlpBodies(n: number) {
  const traceId = `5a1f${n.toString(16).padStart(28, '0')}`;
  const spanId = `5a1f${n.toString(16).padStart(12, '0')}`;
  const asProtobuf = otlpRequest(
    Buffer.from(traceId, 'hex').toString('base64'),
    Buffer.from(spanId, 'hex').toString('base64'),
  );
  return {
    protobuf: {
      type: 'application/x-protobuf',
      body: encodeExportRequest(asProtobuf),
    },
    json: { type: 'application/json', body: JSON.stringify(otlpRequest(traceId, spanId)) },
  };
}

async function postTraces(url: string, part: { type: string; body: Uint8Array | string }) {
  const answer = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': part.type },
    body: part.body,
  });
  return { status: answer.status, text: await answer.text() };
}

/** Fails with the collector's stderr when it is no longer running. */
function expectRunning(cli: RunningCli): void {
  expect(cli.child.exitCode, `collector exited; stderr:\n${cli.stderr()}`).toBeNull();
  expect(cli.child.signalCode, `collector killed; stderr:\n${cli.stderr()}`).toBeNull();
}

/** What /healthz answers while PostgreSQL is down: 503, saying the storage is unavailable. */
async function expectHealthUnavailable(cli: RunningCli): Promise<Json> {
  const health = await getJson(`${cli.url}/healthz`);
  expect(health.status).toBe(503);
  expect(health.json).toMatchObject({
    error: 'storage_unreachable',
    status: 'unavailable',
    storage: { kind: 'postgres', reachable: false, last_error: expect.any(String) },
  });
  return health.json;
}

describe.skipIf(!bin)(`PostgreSQL faults${bin ? '' : ` (skipped: ${skipReason})`}`, () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // Best effort: the cluster may be stopped already.
      }
    }
  });

  /** A cluster stopped and deleted after the test. */
  async function cluster(): Promise<PgCluster> {
    const c = await PgCluster.create(bin!);
    cleanups.push(() => c.remove());
    cleanups.push(() => c.stop('immediate'));
    return c;
  }

  /** `raceway serve` on the cluster, killed after the test if still running. */
  async function collector(url: string, args: string[] = []): Promise<RunningCli> {
    const cwd = mkdtempSync(join(tmpdir(), 'raceway-pg-faults-'));
    cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
    const cli = await startCli(['serve', '--port', '0', '--storage', url, ...args], { cwd });
    cleanups.push(() => {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    });
    return cli;
  }

  /** SIGTERM: the collector must still be running, and stop cleanly. */
  async function stopCollector(cli: RunningCli): Promise<void> {
    expectRunning(cli);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  }

  it('survives PostgreSQL stopping (immediate) under ingest load, answers 503, and recovers', async () => {
    const db = await cluster();
    const cli = await collector(db.url);
    const load = new Load(cli.url);
    try {
      await load.moreAcks(50);
      const lock = await blockWrites(db.url, 'traces');
      await lock.waiters();
      const stopAt = Date.now();
      db.stop('immediate');
      const downAt = Date.now();

      // Down: the collector stays up, refuses batches with 503 (SDKs retry), says so in /healthz.
      await sleep(1000);
      expectRunning(cli);
      const health = await expectHealthUnavailable(cli);
      const upFrom = Date.now();
      db.start();
      const upAt = Date.now();
      // The batches in flight at the stop (waiting for the lock) were refused, not acknowledged;
      // one that committed in the instant between taking the time and the stop may be a 200
      // (durable: it is counted as acknowledged below).
      const inFlight = load.attempts.filter((a) => a.sentAt < stopAt && a.doneAt > stopAt);
      expect(inFlight.filter((a) => a.status === 503).length).toBeGreaterThan(0);
      expect(
        inFlight.filter((a) => a.status !== 503 && a.status !== 200),
        'in flight at the stop, answered neither 503 nor 200',
      ).toEqual([]);
      const whileDown = load.statusesBetween(downAt, upFrom);
      expect(Object.keys(whileDown)).toEqual(['503']);
      expect(whileDown[503]).toBeGreaterThan(0);

      // Back: ingestion works again within RECOVERY_LIMIT_MS.
      await load.moreAcks(20);
      const recoveryMs = Math.max(0, load.firstAckAfter(upFrom)!.doneAt - upAt);
      expect(recoveryMs).toBeLessThan(RECOVERY_LIMIT_MS);
      await load.stop();

      expect((await getJson(`${cli.url}/healthz`)).status).toBe(200);
      const counts = await countStored(db.url, load.acked);
      expect(counts.stored).toBe(counts.acknowledged);
      expect(
        load.attempts.filter((a) => a.status === 0),
        'requests never answered',
      ).toEqual([]);
      console.info('pg-faults ingest', {
        batches_acked: load.acked.length,
        in_flight_at_stop_answered_503: inFlight.length,
        answered_503_while_down: whileDown[503],
        recovery_ms: recoveryMs,
        ...counts,
        healthz_while_down: health.storage,
      });
      await stopCollector(cli);
    } finally {
      await load.stop();
    }
  }, 60_000);

  it('answers POST /v1/traces with 503 while PostgreSQL is down, protobuf and JSON alike, storing nothing', async () => {
    const db = await cluster();
    const cli = await collector(db.url);
    // One request per encoding, each of a trace of its own.
    const requests = [
      { traceId: '5a1f0000000000000000000000000001', ...otlpBodies(1).protobuf },
      { traceId: '5a1f0000000000000000000000000002', ...otlpBodies(2).json },
    ];
    db.stop('immediate');
    await expectHealthUnavailable(cli);
    for (const request of requests) {
      const answer = await postTraces(cli.url, request);
      expect(answer.status, `${request.type}: ${answer.text}`).toBe(503);
      expect(JSON.parse(answer.text)).toMatchObject({ error: 'unavailable' });
    }
    expectRunning(cli);

    // Nothing of the refused requests was stored; sent again once PostgreSQL is back, they are.
    db.start();
    for (const request of requests) expect(await storedEventsOf(db.url, request.traceId)).toBe(0);
    for (const request of requests) {
      let answer = await postTraces(cli.url, request);
      for (const deadline = Date.now() + 15_000; answer.status === 503; ) {
        if (Date.now() > deadline) throw new Error(`${request.type}: still 503 (${answer.text})`);
        await sleep(50);
        answer = await postTraces(cli.url, request);
      }
      expect(answer.status, `${request.type}: ${answer.text}`).toBe(200);
      expect(await storedEventsOf(db.url, request.traceId)).toBeGreaterThan(0);
    }
    await stopCollector(cli);
  }, 60_000);

  it('survives PostgreSQL stopping during an analysis run, and fails over to a new server at the same address', async () => {
    const first = await cluster();
    // No background analysis: the run below is the only one, and has a backlog to work on.
    const cli = await collector(first.url, ['--analysis-delay', '3600000']);
    // Lighter load: what matters here is the run, and the final run analyses all of it.
    const load = new Load(cli.url, 2, 2);
    try {
      await load.moreAcks(100);
      // The run's first save waits for the lock: the server stops while the run is working.
      const lock = await blockWrites(first.url, 'trace_analysis');
      const run = fetch(`${cli.url}/api/analysis/run`, { method: 'POST' });
      await lock.waiters();
      first.stop('immediate');

      // The run in progress fails as 503; the collector stays up.
      expect((await run).status).toBe(503);
      expectRunning(cli);
      await expectHealthUnavailable(cli);

      // Failover: another server (a copy of the data, as a promoted standby) on the same port.
      const second = first.copy();
      cleanups.push(() => second.remove());
      cleanups.push(() => second.stop('immediate'));
      const upFrom = Date.now();
      second.start();
      const upAt = Date.now();
      await load.moreAcks(20);
      const recoveryMs = Math.max(0, load.firstAckAfter(upFrom)!.doneAt - upAt);
      expect(recoveryMs).toBeLessThan(RECOVERY_LIMIT_MS);
      await load.stop();

      expect((await getJson(`${cli.url}/healthz`)).status).toBe(200);
      const runAt = Date.now();
      const analysis = await fetch(`${cli.url}/api/analysis/run`, { method: 'POST' });
      expect(analysis.status).toBe(200);
      expect(((await analysis.json()) as Json).pending_traces).toBe(0);
      const analysisMs = Date.now() - runAt;
      const counts = await countStored(second.url, load.acked);
      expect(counts.stored).toBe(counts.acknowledged);
      expect(
        load.attempts.filter((a) => a.status === 0),
        'requests never answered',
      ).toEqual([]);
      console.info('pg-faults analysis + failover', {
        batches_acked: load.acked.length,
        analysis_after_failover_ms: analysisMs,
        recovery_ms: recoveryMs,
        ...counts,
      });
      await stopCollector(cli);
    } finally {
      await load.stop();
    }
  }, 60_000);
});
