import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultEngine } from '../src/scheduler/default-engine.js';
import type { AnalysisEngine } from '../src/scheduler/engine.js';
import { type Collector, startCollector } from '../src/server.js';
import { getJson, makeTrace, postBatch } from './fixtures.js';

// Every answer of every route against the response schema the route declares (the check of
// src/api/response-check.ts, on in every test of this package: vitest.config.ts), and the check
// itself: an answer with a field its schema does not declare fails it.

/** The real analysis, with one field no schema declares added to every critical path. */
const leakyEngine: AnalysisEngine = {
  ...defaultEngine,
  analyzeTrace(events, options) {
    const result = defaultEngine.analyzeTrace(events, options);
    return {
      ...result,
      criticalPath: result.criticalPath && { ...result.criticalPath, internalScore: 42 },
    };
  },
};

async function withCollector<T>(
  options: { checkResponses: boolean; engine?: AnalysisEngine },
  use: (collector: Collector, traceId: string) => Promise<T>,
): Promise<T> {
  const collector = await startCollector({ port: 0, storage: 'sqlite::memory:', ...options });
  try {
    const events = makeTrace({ resource: 'stock:1' });
    expect((await postBatch(collector.url, { events })).status).toBe(200);
    await collector.analyzeNow();
    return await use(collector, events[0]!.trace_id);
  } finally {
    await collector.close();
  }
}

describe('response schemas', () => {
  let collector: Collector;
  let traceId: string;
  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      checkResponses: true,
      apiKeys: ['ingest-key'],
    });
    const events = [
      ...makeTrace({ resource: 'stock:1', uninstrumentedHost: 'pay.example', backendStatus: 500 }),
      ...makeTrace({ resource: 'stock:1' }),
    ];
    traceId = events[0]!.trace_id;
    const key = { authorization: 'Bearer ingest-key' };
    const response = await fetch(`${collector.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...key },
      body: JSON.stringify({ events, sdk: { name: 'test', version: '1', language: 'js' } }),
    });
    expect(response.status).toBe(200);
    await collector.analyzeNow();
  });
  afterAll(() => collector?.close());

  it('holds for every answer of every route, errors included', async () => {
    const key = { authorization: 'Bearer ingest-key' };
    const requests: Array<[method: string, path: string, init?: RequestInit]> = [
      ['GET', '/healthz'],
      ['GET', '/api/openapi.json', { headers: key }],
      ['GET', '/api/traces?limit=1', { headers: key }],
      ['GET', '/api/traces?count=true&attr=k%3Dv&trace_id_prefix=ab', { headers: key }],
      ['GET', '/api/traces?from=yesterday', { headers: key }],
      ['GET', '/api/traces', {}],
      ['GET', `/api/traces/${traceId}?limit=3`, { headers: key }],
      ['GET', `/api/traces/${'f'.repeat(32)}`, { headers: key }],
      ['GET', '/api/traces/nope', { headers: key }],
      ['GET', `/api/traces/${traceId}/outline`, { headers: key }],
      ['GET', `/api/traces/${'f'.repeat(32)}/outline`, { headers: key }],
      ['GET', `/api/traces/${traceId}/critical-path`, { headers: key }],
      ['GET', `/api/traces/${traceId}/diagnostics`, { headers: key }],
      ['GET', `/api/traces/${traceId}/races`, { headers: key }],
      ['GET', '/api/races?limit=1', { headers: key }],
      ['GET', '/api/races?scope=both', { headers: key }],
      ['GET', '/api/diagnostics', { headers: key }],
      ['GET', '/api/resources/history?resource=stock:1', { headers: key }],
      ['GET', '/api/resources/history', { headers: key }],
      ['GET', '/api/services', { headers: key }],
      ['GET', '/api/services/timeline?buckets=5', { headers: key }],
      ['GET', '/api/services/timeline?buckets=1', { headers: key }],
      ['GET', '/api/dependencies', { headers: key }],
      ['GET', '/api/dependencies?from=2&to=1', { headers: key }],
      ['GET', '/api/analysis/status', { headers: key }],
      ['GET', '/metrics', { headers: key }],
      ['GET', '/metrics'],
      ['POST', '/api/analysis/run', { headers: key }],
      [
        'POST',
        '/api/analysis/run',
        { headers: { ...key, 'content-type': 'application/json' }, body: '{' },
      ],
      ['POST', '/api/analysis/run', { headers: { ...key, 'content-type': 'text/csv' }, body: 'a' }],
      [
        'POST',
        '/api/analysis/run',
        {
          headers: { ...key, 'content-type': 'application/json' },
          body: `"${'x'.repeat(70_000)}"`,
        },
      ],
      ['POST', '/v1/events', { headers: { ...key, 'content-type': 'application/json' } }],
      [
        'POST',
        '/v1/events',
        {
          headers: { ...key, 'content-type': 'application/json' },
          body: JSON.stringify({ events: [{ id: 'not an event' }] }),
        },
      ],
      ['POST', '/v1/events', { headers: { 'content-type': 'application/json' }, body: '{}' }],
      [
        'POST',
        '/v1/traces',
        { headers: { ...key, 'content-type': 'application/json' }, body: '{}' },
      ],
      [
        'POST',
        '/v1/traces',
        {
          headers: { ...key, 'content-type': 'application/json' },
          body: JSON.stringify({
            resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'nope', spanId: 'nope' }] }] }],
          }),
        },
      ],
      [
        'POST',
        '/v1/traces',
        { headers: { ...key, 'content-type': 'application/json' }, body: '[' },
      ],
      ['POST', '/v1/traces', { headers: { ...key, 'content-type': 'text/plain' }, body: 'x' }],
      ['POST', '/v1/traces', { headers: { 'content-type': 'application/json' }, body: '{}' }],
    ];
    const asked = new Set<string>();
    const statuses: number[] = [];
    for (const [method, path, init] of requests) {
      const response = await fetch(`${collector.url}${path}`, { method, ...init });
      const body = await response.text();
      expect({ path, status: response.status, body }).not.toMatchObject({ status: 500 });
      statuses.push(response.status);
      asked.add(
        `${method} ${collector.routes.find((r) => matches(r.url, path) && r.method === method)?.url}`,
      );
    }
    // A Host header naming another host (fetch cannot set one).
    const misdirected = await new Promise<number>((resolve, reject) => {
      request(`${collector.url}/healthz`, { headers: { host: 'evil.example' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    statuses.push(misdirected);
    expect(new Set(statuses)).toEqual(new Set([200, 400, 401, 404, 413, 415, 421, 422]));
    // Every route was asked at least once.
    expect([...asked].sort()).toEqual(
      [...new Set(collector.routes.map((r) => `${r.method} ${r.url}`))].sort(),
    );
  });

  it('fails an answer with a field its schema does not declare', async () => {
    const path = (id: string) => `/api/traces/${id}/critical-path`;
    // Without the check the field goes out: nothing else shows that answer and schema differ.
    await withCollector({ checkResponses: false, engine: leakyEngine }, async (c, id) => {
      const { status, json } = await getJson(`${c.url}${path(id)}`);
      expect(status).toBe(200);
      expect(json.critical_path).toHaveProperty('internalScore', 42);
    });
    await withCollector({ checkResponses: true, engine: leakyEngine }, async (c, id) => {
      const { status, json } = await getJson(`${c.url}${path(id)}`);
      expect(status).toBe(500);
      expect(json.error).toBe('response_does_not_match_schema');
      expect(json.message).toMatch(
        /GET \/api\/traces\/:traceId\/critical-path answered 200 with a body its schema does not declare: .*critical_path.*must NOT have additional properties/,
      );
    });
    // The real analysis passes it.
    await withCollector({ checkResponses: true }, async (c, id) => {
      expect((await getJson(`${c.url}${path(id)}`)).status).toBe(200);
    });
  });
});

/** Whether `path` (with its query) is served by the route `pattern` (`/api/traces/:traceId`). */
function matches(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.replace(/:\w+/g, '[^/]+')}$`);
  return re.test(path.split('?')[0]!);
}
