import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import { getJson, makeTrace, postBatch } from './fixtures.js';

// Hostile input and unauthorised readers: limits beyond the schema, keys on the read side,
// the Host check against DNS rebinding, and CORS.

/** 200 valid events over several traces. */
function twoHundredEvents(): StoredEvent[] {
  const out: StoredEvent[] = [];
  while (out.length < 200) out.push(...makeTrace());
  return out.slice(0, 200);
}

/** A value nested `depth` levels deep, as JSON text (JSON.stringify would recurse). */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A request with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ingest limits beyond the schema', () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = await startCollector({ port: 0, storage: 'sqlite::memory:' });
  });
  afterAll(() => collector.close());

  it('rejects a value nested 200 deep as one entry of a 422 and stores its 199 neighbours', async () => {
    const events = twoHundredEvents();
    const write = events.findIndex((e) => e.kind === 'state_write');
    const texts = events.map((e) => JSON.stringify(e));
    const deep = { ...events[write]!, data: { resource: 'r', value: '__DEEP__' } };
    texts[write] = JSON.stringify(deep).replace('"__DEEP__"', deepJson(200));
    const res = await postBatch(collector.url, null, { raw: `{"events":[${texts.join(',')}]}` });
    expect(res.status).toBe(422);
    expect(res.json.accepted).toBe(199);
    expect(res.json.rejected).toEqual([
      {
        index: write,
        id: events[write]!.id,
        errors: [expect.stringMatching(/^\/data\/value(\/a)* is nested deeper than 32 levels$/)],
      },
    ]);
    const stored = await getJson(`${collector.url}/api/traces/${events[0]!.trace_id}`);
    expect(stored.status).toBe(200);
  });

  it('rejects non-finite numbers, far-future timestamps and absurd counters with a reason', async () => {
    const trace = makeTrace();
    const responses = trace.filter((e) => e.kind === 'response_sent');
    const requests = trace.filter((e) => e.kind === 'request_received');
    const events = [responses[0]!, requests[0]!, requests[1]!, responses[1]!];
    const texts = events.map((e) => JSON.stringify(e));
    // 1e999 is valid JSON and parses to Infinity.
    texts[0] = texts[0]!.replace(/"duration_ms":[0-9.]+/, '"duration_ms":1e999');
    texts[1] = JSON.stringify({ ...events[1]!, ts_us: (Date.now() + 3_600_000) * 1000 });
    texts[2] = JSON.stringify({ ...events[2]!, clock_dropped: 10 ** 12 });
    const res = await postBatch(collector.url, null, { raw: `{"events":[${texts.join(',')}]}` });
    expect(res.status).toBe(422);
    const reasons = res.json.rejected.map((r: { errors: string[] }) => r.errors.join('; '));
    expect(reasons[0]).toMatch(/\/data\/duration_ms is not a finite number/);
    expect(reasons[1]).toMatch(/\/ts_us is .* ahead of the collector's clock/);
    expect(reasons[2]).toMatch(/\/clock_dropped is 1000000000000, above 1000000/);
    expect(res.json.accepted + res.json.duplicates).toBe(events.length - 3);
  });

  it('refuses an absurd batch drop count', async () => {
    const res = await postBatch(collector.url, { dropped: 1e15, events: makeTrace() });
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(/"dropped"/);
  });

  it('refuses a gzip body of ten million [ before parsing it, and stays open to others', async () => {
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('{"events":['), Buffer.alloc(10_000_000, '[')]),
      {
        level: 9,
      },
    );
    expect(bomb.length).toBeLessThan(30_000);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        postBatch(collector.url, null, { raw: bomb, headers: { 'content-encoding': 'gzip' } }),
      ),
    );
    for (const res of answers) {
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'too_deep', limit_depth: 256 });
    }
    const plain = await postBatch(collector.url, null, { raw: `{"events":[${'['.repeat(300)}` });
    expect(plain.status).toBe(400);
    expect(plain.json.error).toBe('too_deep');
    expect((await postBatch(collector.url, { events: makeTrace() })).status).toBe(200);
  });

  it('counts brackets inside strings as text, not nesting', async () => {
    const events = makeTrace();
    const write = events.findIndex((e) => e.kind === 'state_write');
    events[write] = {
      ...events[write]!,
      data: { resource: 'r', value: `"[{\\${'['.repeat(1000)}` },
    };
    expect((await postBatch(collector.url, { events })).status).toBe(200);
  });

  it('refuses charsets other than UTF-8 with 415 and takes UTF-8 in any spelling', async () => {
    for (const charset of ['iso-8859-1', 'utf-16', '"latin1"', 'us-ascii']) {
      const res = await postBatch(
        collector.url,
        { events: makeTrace() },
        { headers: { 'content-type': `application/json; charset=${charset}` } },
      );
      expect(res.status, charset).toBe(415);
      expect(res.json.message).toMatch(/charset/);
    }
    for (const charset of ['utf-8', 'UTF-8', '"utf-8"', 'utf8']) {
      const res = await postBatch(
        collector.url,
        { events: makeTrace() },
        { headers: { 'content-type': `application/json; charset=${charset}` } },
      );
      expect(res.status, charset).toBe(200);
    }
  });
});

describe('retention at ingest', () => {
  it('refuses events older than the retention period instead of storing them for deletion', async () => {
    const collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      retention: '1h',
    });
    try {
      const old = makeTrace({ startUs: (Date.now() - 2 * 3_600_000) * 1000 });
      const fresh = makeTrace();
      const res = await postBatch(collector.url, { events: [...old, ...fresh] });
      expect(res.status).toBe(422);
      expect(res.json.accepted).toBe(fresh.length);
      expect(res.json.rejected).toHaveLength(old.length);
      expect(res.json.rejected[0].errors[0]).toMatch(
        /older than the collector keeps data \(1 hour\)/,
      );
    } finally {
      await collector.close();
    }
  });
});

describe('read-side access control', () => {
  it('requires a key on every /api route when keys are set; ingest keys read too', async () => {
    const collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      apiKeys: ['ingest-key'],
    });
    try {
      for (const path of ['/api/traces', '/api/races', '/api/openapi.json', '/api/services']) {
        const res = await fetch(`${collector.url}${path}`);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
      const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
      expect(run.status).toBe(401);
      const ok = await fetch(`${collector.url}/api/traces`, {
        headers: { authorization: 'Bearer ingest-key' },
      });
      expect(ok.status).toBe(200);
      expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
    } finally {
      await collector.close();
    }
  });

  it('keeps read keys and ingest keys apart when both are set', async () => {
    const collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      apiKeys: ['ingest-key'],
      readKeys: ['read-key'],
    });
    try {
      const read = (key: string) =>
        fetch(`${collector.url}/api/traces`, { headers: { authorization: `Bearer ${key}` } });
      expect((await read('read-key')).status).toBe(200);
      expect((await read('ingest-key')).status).toBe(401);
      const ingest = (key: string) =>
        postBatch(
          collector.url,
          { events: makeTrace() },
          { headers: { authorization: `Bearer ${key}` } },
        );
      expect((await ingest('ingest-key')).status).toBe(200);
      expect((await ingest('read-key')).status).toBe(401);
    } finally {
      await collector.close();
    }
  });
});

describe('Host check and CORS', () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      corsOrigins: ['http://localhost:5173'],
      allowedHosts: ['raceway.internal'],
    });
  });
  afterAll(() => collector.close());

  it('refuses a foreign Host on a loopback collector (DNS rebinding)', async () => {
    const foreign = await getWithHost(
      `${collector.url}/api/traces`,
      `evil.example:${collector.port}`,
    );
    expect(foreign.status).toBe(421);
    expect(JSON.parse(foreign.body).error).toBe('misdirected_request');
    for (const host of [
      `localhost:${collector.port}`,
      `127.0.0.1:${collector.port}`,
      'raceway.internal',
    ]) {
      expect((await getWithHost(`${collector.url}/api/traces`, host)).status).toBe(200);
    }
  });

  it('sends CORS headers to configured origins only', async () => {
    const other = await fetch(`${collector.url}/api/traces`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const allowed = await fetch(`${collector.url}/api/traces`, {
      headers: { origin: 'http://localhost:5173' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const preflight = await fetch(`${collector.url}/api/traces`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
  });
});

describe('bounded reads', () => {
  it('pages the events of a large trace, 1,000 by default', async () => {
    const collector = await startCollector({ port: 0, storage: 'sqlite::memory:' });
    try {
      const traceId = makeTrace()[0]!.trace_id;
      const events: StoredEvent[] = [];
      while (events.length < 12_000) {
        for (const e of makeTrace({ traceId })) events.push(e);
      }
      for (let i = 0; i < events.length; i += 5000) {
        expect((await postBatch(collector.url, { events: events.slice(i, i + 5000) })).status).toBe(
          200,
        );
      }
      const countEvents = (spans: Array<{ events: unknown[]; children: unknown[] }>): number =>
        spans.reduce((n, s) => n + s.events.length + countEvents(s.children as never), 0);
      let cursor: string | null = null;
      const pages: number[] = [];
      do {
        const query: string = cursor ? `?cursor=${cursor}` : '';
        const { status, json } = await getJson(`${collector.url}/api/traces/${traceId}${query}`);
        expect(status).toBe(200);
        expect(countEvents(json.spans)).toBe(json.events_returned);
        pages.push(json.events_returned);
        cursor = json.next_cursor;
      } while (cursor !== null && pages.length < 20);
      expect(pages.slice(0, 2)).toEqual([1000, 1000]);
      expect(pages.reduce((a, b) => a + b, 0)).toBe(events.length);
    } finally {
      await collector.close();
    }
  });
});
