import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ingestResponseSchema from '../src/schemas/ingest-response.schema.json' with { type: 'json' };
import { type Collector, startCollector } from '../src/server.js';
import { getJson, makeTrace, postBatch } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'raceway-ingest-'));
const validAnswer = new Ajv2020({ strict: false }).compile(ingestResponseSchema);

let collector: Collector;
let small: Collector;

beforeAll(async () => {
  collector = await startCollector({ port: 0, storage: `sqlite:${join(dir, 'main.db')}` });
  small = await startCollector({
    port: 0,
    storage: `sqlite:${join(dir, 'small.db')}`,
    maxBodyBytes: 64 * 1024,
    maxDecompressedBytes: 256 * 1024,
    apiKeys: ['k-one', 'k-two'],
  });
});

afterAll(async () => {
  await collector?.close();
  await small?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function counts(c: Collector) {
  return (await getJson(`${c.url}/healthz`)).json.counts as { events: number; traces: number };
}

describe('POST /v1/events: valid batches', () => {
  it('stores a JSON batch, answers 200 {accepted, duplicates}, and the trace is queryable', async () => {
    const events = makeTrace();
    const res = await postBatch(collector.url, { sdk: { name: 'test', version: '1' }, events });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ accepted: events.length, duplicates: 0 });
    expect(validAnswer(res.json)).toBe(true);
    const trace = await getJson(`${collector.url}/api/traces/${events[0]!.trace_id}`);
    expect(trace.status).toBe(200);
    expect(trace.json.event_count).toBe(events.length);
  });

  it('accepts a gzip batch', async () => {
    const events = makeTrace();
    const res = await postBatch(collector.url, { events }, { gzip: true });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ accepted: events.length, duplicates: 0 });
  });

  it('accepts a gzip body of several members (RFC 1952), as the SDKs send it', async () => {
    const events = makeTrace();
    const text = JSON.stringify({ events });
    const cut = text.indexOf('"events":[') + '"events":['.length;
    const members = [text.slice(0, cut), text.slice(cut, -2), text.slice(-2)].map((part) =>
      gzipSync(part),
    );
    const res = await postBatch(collector.url, null, {
      raw: Buffer.concat(members),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ accepted: events.length, duplicates: 0 });
  });

  it('does not double count a retried batch', async () => {
    const events = makeTrace();
    await postBatch(collector.url, { events });
    const before = await counts(collector);
    const retry = await postBatch(collector.url, { events }, { gzip: true });
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ accepted: 0, duplicates: events.length });
    expect(await counts(collector)).toEqual(before);
    const trace = await getJson(`${collector.url}/api/traces/${events[0]!.trace_id}`);
    expect(trace.json.event_count).toBe(events.length);
  });

  it('accepts application/json with a charset', async () => {
    const events = makeTrace();
    const res = await postBatch(
      collector.url,
      { events },
      { headers: { 'content-type': 'application/json; charset=utf-8' } },
    );
    expect(res.status).toBe(200);
  });
});

describe('POST /v1/events: invalid events in a batch (422)', () => {
  it('stores the valid events and lists the invalid ones with index, id and errors', async () => {
    const [a, b, c, d, e] = makeTrace();
    const wrongType = { ...b!, ts_us: 'yesterday' };
    const missing = { ...c! } as Record<string, unknown>;
    delete missing.service;
    const badKind = { ...d!, kind: 'teleport' };
    const before = await counts(collector);
    const res = await postBatch(collector.url, { events: [a, wrongType, missing, 42, badKind, e] });
    expect(res.status).toBe(422);
    expect(validAnswer(res.json)).toBe(true);
    expect(res.json.accepted).toBe(2);
    expect(res.json.duplicates).toBe(0);
    expect(res.json.error).toBe('invalid_events');
    expect(res.json.message).toMatch(/4 of 6 events are invalid/);
    const rejected = res.json.rejected as Array<{
      index: number;
      id: string | null;
      errors: string[];
    }>;
    expect(rejected.map((r) => r.index)).toEqual([1, 2, 3, 4]);
    expect(rejected.map((r) => r.id)).toEqual([b!.id, c!.id, null, d!.id]);
    expect(rejected[0]!.errors).toContain('/ts_us must be integer');
    expect(rejected[1]!.errors).toContain('service is required');
    expect(rejected[2]!.errors.join()).toMatch(/must be object/);
    expect(rejected[3]!.errors.join()).toMatch(/\/kind must be one of/);
    expect(await counts(collector)).toEqual({
      ...before,
      events: before.events + 2,
      traces: before.traces + 1,
    });
    const stored = await getJson(`${collector.url}/api/traces/${a!.trace_id}`);
    interface Node {
      events: Array<{ id: string }>;
      children: Node[];
    }
    const walk = (s: Node): string[] => [...s.events.map((x) => x.id), ...s.children.flatMap(walk)];
    const ids = (stored.json.spans as Node[]).flatMap(walk);
    expect(ids.sort()).toEqual([a!.id, e!.id].sort());
  });

  it('reports errors inside kind-specific data', async () => {
    const [event] = makeTrace();
    const bad = { ...event!, data: { ...event!.data, method: 'get', extra: 1 } };
    const res = await postBatch(collector.url, { events: [bad] });
    expect(res.status).toBe(422);
    const errors = res.json.rejected[0].errors as string[];
    expect(errors).toContain('/data has unknown property "extra"');
    expect(errors.some((e) => e.startsWith('/data/method must match pattern'))).toBe(true);
  });

  it('refuses the component prefix otel:, which names spans received over OTLP', async () => {
    const [event, other] = makeTrace();
    const posing = { ...event!, component: 'otel:0123456789abcdef' };
    const res = await postBatch(collector.url, { events: [posing, other] });
    expect(res.status).toBe(422);
    expect(res.json.accepted).toBe(1);
    expect(res.json.rejected).toEqual([
      {
        index: 0,
        id: event!.id,
        errors: [expect.stringMatching(/^\/component starts with otel:/)],
      },
    ]);
  });
});

describe('POST /v1/events: unusable batches lose nothing already stored', () => {
  let before: { events: number; traces: number };
  beforeAll(async () => {
    before = await counts(collector);
  });
  afterAll(async () => {
    expect(await counts(collector)).toEqual(before);
  });

  const cases: Array<[string, () => ReturnType<typeof postBatch>, number, string]> = [
    [
      'not JSON',
      () => postBatch(collector.url, null, { raw: '{"events": [' }),
      400,
      'invalid_json',
    ],
    ['an empty body', () => postBatch(collector.url, null, { raw: '' }), 400, 'bad_request'],
    ['a JSON array', () => postBatch(collector.url, [makeTrace()[0]]), 400, 'invalid_batch'],
    [
      'events not an array',
      () => postBatch(collector.url, { events: 'many' }),
      400,
      'invalid_batch',
    ],
    ['no events', () => postBatch(collector.url, { events: [] }), 400, 'invalid_batch'],
    [
      'an unknown top-level field',
      () => postBatch(collector.url, { events: makeTrace(), extra: true }),
      400,
      'invalid_batch',
    ],
    [
      'a wrong sdk field',
      () => postBatch(collector.url, { events: makeTrace(), sdk: { name: 1 } }),
      400,
      'invalid_batch',
    ],
    [
      'bad gzip',
      () =>
        postBatch(collector.url, null, {
          raw: 'not gzip at all',
          headers: { 'content-encoding': 'gzip' },
        }),
      400,
      'invalid_gzip',
    ],
    [
      'gzip of something that is not JSON',
      () =>
        postBatch(collector.url, null, {
          raw: gzipSync('<xml/>'),
          headers: { 'content-encoding': 'gzip' },
        }),
      400,
      'invalid_json',
    ],
    [
      'more than 5000 events',
      () => postBatch(collector.url, { events: Array.from({ length: 5001 }, () => ({})) }),
      413,
      'too_many_events',
    ],
    [
      'a body above the default 5 MiB',
      () => postBatch(collector.url, { events: [{ pad: 'x'.repeat(6 * 1024 * 1024) }] }),
      413,
      'payload_too_large',
    ],
    [
      'a wrong content type',
      () =>
        postBatch(
          collector.url,
          { events: makeTrace() },
          { headers: { 'content-type': 'text/plain' } },
        ),
      415,
      'unsupported_media_type',
    ],
    [
      'an unsupported content encoding',
      () =>
        postBatch(
          collector.url,
          { events: makeTrace() },
          { headers: { 'content-encoding': 'br' } },
        ),
      415,
      'unsupported_media_type',
    ],
  ];

  it.each(cases)('%s', async (_name, send, status, error) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ error });
    expect(typeof res.json.message).toBe('string');
    expect(res.json.message.length).toBeGreaterThan(10);
  });

  it('a request without a body or content type', async () => {
    const res = await fetch(`${collector.url}/v1/events`, { method: 'POST' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });
});

describe('POST /v1/events: limits and API keys', () => {
  const auth = { authorization: 'Bearer k-two' };

  it('answers 413 past the configured body limit', async () => {
    const events = Array.from({ length: 40 }, () => makeTrace()).flat();
    const res = await postBatch(small.url, { events }, { headers: auth });
    expect(res.status).toBe(413);
    expect(res.json.error).toBe('payload_too_large');
    expect(res.json.message).toMatch(/64 KiB/);
  });

  it('answers 413 to a gzip bomb (small compressed, huge decompressed)', async () => {
    const bomb = gzipSync(`{"events":[${' '.repeat(2 * 1024 * 1024)}]}`);
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await postBatch(small.url, null, {
      raw: bomb,
      headers: { ...auth, 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(413);
    expect(res.json.message).toMatch(/expands beyond 256 KiB/);
  });

  it('answers 401 without a key or with a wrong one, and 200 with any configured key', async () => {
    const events = makeTrace();
    const none = await postBatch(small.url, { events });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.json.message).toMatch(/Authorization: Bearer/);
    const wrong = await postBatch(
      small.url,
      { events },
      { headers: { authorization: 'Bearer nope' } },
    );
    expect(wrong.status).toBe(401);
    const basic = await postBatch(
      small.url,
      { events },
      { headers: { authorization: 'Basic azpvbmU=' } },
    );
    expect(basic.status).toBe(401);
    expect((await counts(small)).events).toBe(0);
    const ok = await postBatch(
      small.url,
      { events },
      { headers: { authorization: 'Bearer k-one' } },
    );
    expect(ok.status).toBe(200);
    expect(ok.json.accepted).toBe(events.length);
  });
});
