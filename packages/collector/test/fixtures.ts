import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import type { StoredEvent } from '../src/event.js';

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const newTraceId = () => hex(16);
export const newSpanId = () => hex(8);

interface Ctx {
  traceId: string;
  spanId: string;
  parent: string | null;
  service: string;
  component: string;
  clock: Record<string, number>;
}

/** Builds valid events for one execution context, with a ticking vector clock. */
export class ContextRecorder {
  private readonly ctx: Ctx;
  private readonly instance: string;
  readonly events: StoredEvent[] = [];

  constructor(
    service: string,
    traceId: string,
    parent: string | null,
    private tsUs: number,
    clock: Record<string, number> = {},
    options: { spanId?: string; instance?: string } = {},
  ) {
    this.instance = options.instance ?? `${service}-1`;
    this.ctx = {
      traceId,
      spanId: options.spanId ?? newSpanId(),
      parent,
      service,
      component: `${service}#${hex(4)}`,
      clock: { ...clock },
    };
  }

  get spanId() {
    return this.ctx.spanId;
  }

  get component() {
    return this.ctx.component;
  }

  get clock() {
    return { ...this.ctx.clock };
  }

  merge(clock: Record<string, number>) {
    for (const [k, v] of Object.entries(clock))
      this.ctx.clock[k] = Math.max(this.ctx.clock[k] ?? 0, v);
  }

  /** Records an event of the context; `span` overrides the span (client calls). */
  record(
    kind: StoredEvent['kind'],
    data: Record<string, unknown>,
    span?: { id: string; parent: string | null },
  ) {
    const c = this.ctx;
    c.clock[c.component] = (c.clock[c.component] ?? 0) + 1;
    this.tsUs += 1000;
    const event: StoredEvent = {
      id: hex(16),
      trace_id: c.traceId,
      span_id: span?.id ?? c.spanId,
      parent_span_id: span ? span.parent : c.parent,
      service: c.service,
      instance: this.instance,
      component: c.component,
      ts_us: this.tsUs,
      kind,
      clock: { ...c.clock },
      data,
    };
    this.events.push(event);
    return event;
  }

  /** Sets the time of the next event (µs) minus one millisecond step. */
  at(tsUs: number) {
    this.tsUs = tsUs - 1000;
  }

  advance(ms: number) {
    this.tsUs += ms * 1000;
  }

  get now() {
    return this.tsUs;
  }
}

export interface TraceOptions {
  traceId?: string;
  startUs?: number;
  frontend?: string;
  backend?: string;
  /** Status the backend answers (5xx marks the trace as failed). */
  backendStatus?: number;
  /** Adds a call to a host that never reports (an uninstrumented peer). */
  uninstrumentedHost?: string;
  resource?: string;
}

/**
 * A realistic two-service trace: the frontend receives GET /checkout, calls the backend
 * (which reads and writes a resource), optionally calls an uninstrumented host, and answers.
 */
export function makeTrace(options: TraceOptions = {}): StoredEvent[] {
  const traceId = options.traceId ?? newTraceId();
  const start = options.startUs ?? Date.now() * 1000;
  const frontend = options.frontend ?? 'frontend';
  const backend = options.backend ?? 'inventory';
  const resource = options.resource ?? 'stock:sku-1';
  const fe = new ContextRecorder(frontend, traceId, null, start);
  fe.record('request_received', {
    method: 'GET',
    path: '/checkout/42',
    route: '/checkout/:id',
    incoming: { status: 'absent', reasons: [] },
  });
  const clientSpan = newSpanId();
  const url = `http://${backend}:8080/reserve`;
  fe.record(
    'request_sent',
    { method: 'POST', url, host: `${backend}:8080` },
    { id: clientSpan, parent: fe.spanId },
  );
  const be = new ContextRecorder(backend, traceId, clientSpan, fe.now + 200, fe.clock);
  be.record('request_received', {
    method: 'POST',
    path: '/reserve',
    route: '/reserve',
    incoming: { status: 'accepted', reasons: [] },
  });
  be.record('state_read', { resource, value: 3, version: 7 });
  be.record('state_write', { resource, value: 2, version: 8 });
  const status = options.backendStatus ?? 200;
  be.record('response_sent', {
    method: 'POST',
    route: '/reserve',
    status,
    duration_ms: 4.5,
    ...(status >= 500 ? { error: { type: 'Error', message: 'out of stock' } } : {}),
  });
  fe.merge(be.clock);
  fe.advance(1);
  fe.record(
    'response_received',
    { method: 'POST', url, host: `${backend}:8080`, status, duration_ms: 6, remote_clock: true },
    { id: clientSpan, parent: fe.spanId },
  );
  if (options.uninstrumentedHost) {
    const span = newSpanId();
    const u = `https://${options.uninstrumentedHost}/charge`;
    fe.record(
      'request_sent',
      { method: 'POST', url: u, host: options.uninstrumentedHost },
      { id: span, parent: fe.spanId },
    );
    fe.record(
      'response_received',
      { method: 'POST', url: u, host: options.uninstrumentedHost, status: 201, duration_ms: 12 },
      { id: span, parent: fe.spanId },
    );
  }
  fe.record('response_sent', {
    method: 'GET',
    route: '/checkout/:id',
    status: status >= 500 ? 502 : 200,
    duration_ms: 10,
  });
  return [...fe.events, ...be.events].sort((a, b) => a.ts_us - b.ts_us);
}

/** One event of every kind, all valid, in one trace. */
export function everyKind(traceId = newTraceId()): StoredEvent[] {
  const r = new ContextRecorder('svc', traceId, null, Date.now() * 1000);
  r.record('request_received', {
    method: 'GET',
    path: '/',
    incoming: { status: 'absent', reasons: [] },
  });
  r.record('lock_acquire', { lock: 'l1' });
  r.record('state_read', { resource: 'r1' });
  r.record('state_write', { resource: 'r1', value: { a: 1 }, atomic: true });
  r.record('lock_release', { lock: 'l1' });
  r.record('fork', { child: 'svc#00000001' });
  r.record('join', { child: 'svc#00000001' });
  r.record('custom', { name: 'note', attributes: { k: 'v' } });
  r.record('error', { type: 'TypeError', message: 'boom' });
  const span = newSpanId();
  r.record(
    'request_sent',
    { method: 'GET', url: 'http://x/', host: 'x' },
    { id: span, parent: r.spanId },
  );
  r.record(
    'response_received',
    {
      method: 'GET',
      url: 'http://x/',
      host: 'x',
      error: { type: 'Error', message: 'ECONNREFUSED' },
      duration_ms: 1,
    },
    { id: span, parent: r.spanId },
  );
  r.record('response_sent', { method: 'GET', status: 500, duration_ms: 3 });
  return r.events;
}

/** A parsed JSON answer, read freely by the tests (they assert its shape). */
// biome-ignore lint/suspicious/noExplicitAny: test answers are checked by assertions, not types
export type Json = any;

/** POSTs a batch; `gzip` compresses it. */
export async function postBatch(
  url: string,
  body: unknown,
  options: { gzip?: boolean; headers?: Record<string, string>; raw?: Buffer | string } = {},
): Promise<{ status: number; json: Json; text: string; headers: Headers }> {
  let payload: Buffer | string = options.raw ?? JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...options.headers,
  };
  if (options.gzip) {
    payload = gzipSync(payload);
    headers['content-encoding'] = 'gzip';
  }
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: payload });
  const text = await res.text();
  let json: Json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export async function getJson(url: string): Promise<{ status: number; json: Json }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}

/** Runs `work` on a client of its own connected to `url`, closed afterwards. */
export async function withPgClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the test PostgreSQL server; returns its URL. */
export async function createTestDatabase(adminUrl: string): Promise<string> {
  const name = `raceway_test_${hex(6)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
