import type { StoredEvent } from '../../src/event.js';
import { ContextRecorder, newTraceId, postBatch } from '../fixtures.js';

// Traces made to measure for the UI's tests: one request to `service` on `route` that lasts
// `durationMs`, optionally failing or calling other services.

export interface RequestTrace {
  route: string;
  startUs: number;
  durationMs?: number;
  service?: string;
  method?: string;
  status?: number;
  /** Services the root calls, one after another. */
  calls?: string[];
}

export function requestTrace(options: RequestTrace): StoredEvent[] {
  const traceId = newTraceId();
  const service = options.service ?? 'frontend';
  const method = options.method ?? 'GET';
  const status = options.status ?? 200;
  // The recorder steps 1 ms before each event: the first one is at `startUs`.
  const root = new ContextRecorder(service, traceId, null, options.startUs - 1000);
  root.record('request_received', {
    method,
    path: options.route,
    route: options.route,
    incoming: { status: 'absent', reasons: [] },
  });
  const events = callInTurn(root, traceId, options.calls ?? []);
  const durationMs = options.durationMs ?? 10;
  root.at(options.startUs + durationMs * 1000);
  root.record('response_sent', {
    method,
    route: options.route,
    status,
    duration_ms: durationMs,
    ...(status >= 500 ? { error: { type: 'Error', message: 'failed' } } : {}),
  });
  return [...root.events, ...events].sort((a, b) => a.ts_us - b.ts_us);
}

/** `root` calls each of `callees` and waits for its answer; answers the callees' events. */
function callInTurn(root: ContextRecorder, traceId: string, callees: string[]): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const callee of callees) {
    const url = `http://${callee}:8080/work`;
    const client = { id: newTraceId().slice(0, 16), parent: root.spanId };
    root.record('request_sent', { method: 'POST', url, host: `${callee}:8080` }, client);
    const server = new ContextRecorder(callee, traceId, client.id, root.now + 100, root.clock);
    server.record('request_received', {
      method: 'POST',
      path: '/work',
      route: '/work',
      incoming: { status: 'accepted', reasons: [] },
    });
    server.record('response_sent', { method: 'POST', route: '/work', status: 200, duration_ms: 1 });
    root.merge(server.clock);
    root.record(
      'response_received',
      { method: 'POST', url, host: `${callee}:8080`, status: 200, duration_ms: 1.2 },
      client,
    );
    events.push(...server.events);
  }
  return events;
}

/** Sends the traces to the collector's ingest endpoint, as SDKs do, 100 traces a batch. */
export async function sendTraces(collectorUrl: string, traces: StoredEvent[][]): Promise<void> {
  for (let i = 0; i < traces.length; i += 100) {
    const { status, text } = await postBatch(collectorUrl, {
      events: traces.slice(i, i + 100).flat(),
    });
    if (status !== 200) throw new Error(`ingest answered ${status}: ${text}`);
  }
}

/**
 * A request whose root calls two services at once; each reads and then writes `resource`, so
 * the two writes race (neither happens before the other). Services' names may be long.
 */
export function racingTrace(options: {
  resource: string;
  startUs: number;
  route?: string;
  services?: [string, string];
  /** Services the root calls one after another before the two that race. */
  callsBefore?: string[];
}): StoredEvent[] {
  const traceId = newTraceId();
  const [a, b] = options.services ?? ['inventory', 'order'];
  const route = options.route ?? '/checkout';
  const root = new ContextRecorder('frontend', traceId, null, options.startUs - 1000);
  root.record('request_received', {
    method: 'POST',
    path: route,
    route,
    incoming: { status: 'absent', reasons: [] },
  });
  const before = callInTurn(root, traceId, options.callsBefore ?? []);
  const calls = [a, b].map((service) => {
    const client = { id: newTraceId().slice(0, 16), parent: root.spanId };
    const url = `http://${service}:8080/reserve`;
    root.record('request_sent', { method: 'POST', url, host: `${service}:8080` }, client);
    return { service, client, url, clock: root.clock };
  });
  const servers = calls.map(({ service, client, clock }, i) => {
    const server = new ContextRecorder(service, traceId, client.id, root.now + 100 + i * 50, clock);
    server.record('request_received', {
      method: 'POST',
      path: '/reserve',
      route: '/reserve',
      incoming: { status: 'accepted', reasons: [] },
    });
    server.record('state_read', { resource: options.resource, value: 3, version: 7 });
    server.record('state_write', { resource: options.resource, value: 2, version: 8 });
    server.record('response_sent', {
      method: 'POST',
      route: '/reserve',
      status: 200,
      duration_ms: 3,
    });
    return server;
  });
  root.advance(10);
  calls.forEach(({ service, client, url }, i) => {
    root.merge(servers[i]!.clock);
    root.record(
      'response_received',
      { method: 'POST', url, host: `${service}:8080`, status: 200, duration_ms: 4 },
      client,
    );
  });
  root.record('response_sent', { method: 'POST', route, status: 200, duration_ms: 20 });
  return [...root.events, ...before, ...servers.flatMap((s) => s.events)].sort(
    (x, y) => x.ts_us - y.ts_us,
  );
}
