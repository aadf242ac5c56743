import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Collector, startCollector } from '@raceway/collector';
import { Tracer } from '@raceway/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAccountsServer } from '../src/accounts-service.mjs';
import { Ledger } from '../src/ledger.mjs';
import { runTransferBatch } from '../src/transfer-worker.mjs';

interface SpanEvent {
  kind: string;
  clock: Record<string, number>;
  data: Record<string, unknown>;
}

interface Span {
  service: string;
  parent_missing: boolean;
  events: SpanEvent[];
  children: Span[];
}

interface TraceAnswer {
  services: string[];
  spans: Span[];
}

interface RacesAnswer {
  races: Array<{
    scope: string;
    resource: string;
    services: string[];
    kind: string;
    examples: Array<{ accesses: Array<{ component: string }> }>;
  }>;
}

const TWO_DEBITS = [
  { from: 'alice', to: 'bob', amount: 500 },
  { from: 'alice', to: 'carol', amount: 300 },
];

let collector: Collector;
let server: Server;
let accountsUrl: string;
let ledger: Ledger;
let tracer: Tracer;

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${collector.url}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

/** Sends every queued event of both services, then analyses what the collector has. */
async function collect() {
  await Promise.all([
    tracer.flush(),
    Tracer.fromOptions({ serviceName: 'accounts', serverUrl: collector.url }).flush(),
  ]);
  await collector.analyzeNow();
}

function flatten(spans: Span[]): Span[] {
  return spans.flatMap((span) => [span, ...flatten(span.children)]);
}

beforeAll(async () => {
  collector = await startCollector({ port: 0, storage: 'sqlite::memory:' });
  ledger = new Ledger({});
  server = createAccountsServer({
    ledger,
    raceway: { serviceName: 'accounts', serverUrl: collector.url },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  accountsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tracer = Tracer.fromOptions({ serviceName: 'transfer-worker', serverUrl: collector.url });
});

beforeEach(() => {
  ledger.balances = new Map([
    ['alice', 10_000],
    ['bob', 0],
    ['carol', 0],
  ]);
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await tracer?.shutdown();
  await Tracer.fromOptions({ serviceName: 'accounts', serverUrl: collector.url }).shutdown();
  await collector?.close();
});

describe('manual propagation over node:http', () => {
  it('carries the trace to the service and brings its clock back to the worker', async () => {
    const { traceId, results } = await runTransferBatch({
      tracer,
      accountsUrl,
      transfers: [{ from: 'alice', to: 'bob', amount: 100 }],
    });
    expect(results.map((r) => r.status)).toEqual([201]);
    await collect();

    const trace = await api<TraceAnswer>(`/api/traces/${traceId}`);
    expect([...trace.services].sort()).toEqual(['accounts', 'transfer-worker']);
    // The worker's span is the root; the service's span hangs off it (its traceparent).
    expect(trace.spans).toHaveLength(1);
    const [root] = trace.spans as Span[];
    expect(root!.service).toBe('transfer-worker');
    const server = flatten(trace.spans).find((s) => s.service === 'accounts');
    expect(server).toBeDefined();
    expect(server!.parent_missing).toBe(false);

    // mergeResponseHeaders: the worker's last event comes after everything the service did.
    const sent = server!.events.find((e) => e.kind === 'response_sent')!;
    const done = root!.events.find((e) => e.data.name === 'transfer_batch_done')!;
    expect(sent).toBeDefined();
    expect(done).toBeDefined();
    for (const [component, counter] of Object.entries(sent.clock)) {
      expect(done.clock[component] ?? 0, component).toBeGreaterThanOrEqual(counter);
    }
  });

  it('reports the lost update when two transfers debit one account without a lock', async () => {
    const { traceId, results } = await runTransferBatch({
      tracer,
      accountsUrl,
      transfers: TWO_DEBITS,
    });
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    await collect();

    const { races } = await api<RacesAnswer>(`/api/traces/${traceId}/races`);
    const lost = races.find((r) => r.resource === 'account:alice' && r.kind === 'lost_update');
    expect(lost).toBeDefined();
    expect(lost!.scope).toBe('trace');
    // Two requests to the same service: two execution contexts, so the race is visible.
    expect(lost!.services).toEqual(['accounts']);
    expect(new Set(lost!.examples[0]!.accesses.map((a) => a.component)).size).toBe(2);
    // Only alice is shared; bob and carol each get one transfer.
    expect(races.every((r) => r.resource === 'account:alice')).toBe(true);
  });

  it('reports nothing when the service takes its lock, and no money is lost', async () => {
    const { traceId, results } = await runTransferBatch({
      tracer,
      accountsUrl,
      transfers: TWO_DEBITS,
      locked: true,
    });
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    expect(ledger.balances.get('alice')).toBe(9_200);
    await collect();

    const trace = await api<TraceAnswer>(`/api/traces/${traceId}`);
    const locks = flatten(trace.spans)
      .flatMap((s) => s.events)
      .filter((e) => e.kind === 'lock_acquire' && e.data.lock === 'account:alice');
    expect(locks).toHaveLength(2);
    const { races } = await api<RacesAnswer>(`/api/traces/${traceId}/races`);
    expect(races).toEqual([]);
  });
});
