import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Timeline, TracePage } from '../src/api/schemas/index.js';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import { createTestDatabase, getJson, hex, postBatch } from './fixtures.js';
import { requestTrace } from './ui/seed.js';

// The search side of GET /api/traces (attr, trace_id_prefix, count) and GET /api/services/timeline,
// through HTTP, on both storage backends.

const adminUrl = inject('pgUrl');
const backends: Array<[string, () => Promise<string> | string]> = [
  ['sqlite', () => 'sqlite::memory:'],
];
if (adminUrl) backends.push(['postgres', () => createTestDatabase(adminUrl)]);

const MINUTE_US = 60_000_000;

/** A request trace with a `custom` event carrying `attributes`. */
function withAttributes(startUs: number, attributes: Record<string, unknown>): StoredEvent[] {
  const events = requestTrace({ route: '/cart', startUs, durationMs: 5 });
  const root = events[0]!;
  return [
    ...events,
    {
      ...root,
      id: hex(16),
      kind: 'custom',
      ts_us: root.ts_us + 10,
      data: { name: 'cart', attributes },
    },
  ];
}

describe.each(backends)('trace search and services over time (%s)', (_name, storage) => {
  let collector: Collector;
  // Whole minutes ago, so that the timeline's buckets are known: 40 traces in minute 0 (ten
  // of them with user.tier=gold), then `api` 3 requests a minute for minutes 1-4 calling `db`.
  const minute0 = (Math.floor(Date.now() / 60_000) - 10) * MINUTE_US;
  const traces: StoredEvent[][] = [];
  for (let i = 0; i < 40; i++) {
    traces.push(withAttributes(minute0 + i * 1000, { 'user.tier': i % 4 === 0 ? 'gold' : 'free' }));
  }
  for (let m = 1; m <= 4; m++) {
    for (let r = 0; r < 3; r++) {
      traces.push(
        requestTrace({
          service: 'api',
          route: '/search',
          startUs: minute0 + m * MINUTE_US + r * 1_000_000,
          status: m === 4 && r === 0 ? 500 : 200,
          calls: ['db'],
        }),
      );
    }
  }
  const idOf = (i: number) => traces[i]![0]!.trace_id;
  const window = `from=${minute0 / 1000}&to=${minute0 / 1000 + 10 * 60_000}`;
  const list = async (query: string): Promise<TracePage> => {
    const { status, json } = await getJson(`${collector.url}/api/traces?${window}&${query}`);
    expect(status).toBe(200);
    return json;
  };

  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: await storage(),
      analysisDelayMs: 60_000,
    });
    expect((await postBatch(collector.url, { events: traces.flat() })).status).toBe(200);
  });
  afterAll(async () => {
    await collector?.close();
  });

  it('finds exactly the traces with an attribute, paged, and counts them', async () => {
    const gold = [36, 32, 28, 24, 20, 16, 12, 8, 4, 0].map(idOf);
    const seen: string[] = [];
    let cursor: string | null = null;
    let first: TracePage | null = null;
    do {
      const page = await list(
        `attr=${encodeURIComponent('user.tier=gold')}&limit=4&count=true${cursor ? `&cursor=${cursor}` : ''}`,
      );
      first ??= page;
      seen.push(...page.traces.map((t) => t.trace_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(gold);
    expect(first).toMatchObject({ match_count: 10, match_count_capped: false });
    // Without count=true, no count.
    expect((await list('attr=user.tier%3Dgold')).match_count).toBeUndefined();
    expect((await list('attr=user.tier%3Dplatinum&count=true')).match_count).toBe(0);
    // The value may hold `=`; the key is up to the first one.
    expect((await list('attr=user%3Dtier%3Dgold')).traces).toEqual([]);
  });

  it('counts every match, whatever the page size', async () => {
    const page = await list('limit=1&count=true');
    expect(page.traces).toHaveLength(1);
    expect(page.match_count).toBe(traces.length);
    expect((await list('service=api&count=true')).match_count).toBe(12);
  });

  it('finds a trace by a prefix of its id, in any case and with dashes', async () => {
    const id = idOf(17);
    expect(
      (await list(`trace_id_prefix=${id.slice(0, 10)}`)).traces.map((t) => t.trace_id),
    ).toEqual([id]);
    const dashed = `${id.slice(0, 8)}-${id.slice(8, 12)}`.toUpperCase();
    expect((await list(`trace_id_prefix=${dashed}`)).traces.map((t) => t.trace_id)).toEqual([id]);
  });

  it.each([
    ['attr=novalue', /"attr" is "novalue": give key=value/],
    ['attr=%3Dgold', /"attr"/],
    ['trace_id_prefix=xyz', /"trace_id_prefix"/],
    [`trace_id_prefix=${'a'.repeat(33)}`, /"trace_id_prefix" has more than 32 hex digits/],
  ])('answers 400 to %s', async (query, message) => {
    const { status, json } = await getJson(`${collector.url}/api/traces?${query}`);
    expect(status).toBe(400);
    expect(json.message).toMatch(message);
  });

  it('answers the rate, errors and latency of each service and edge per bucket', async () => {
    const from = minute0 / 1000;
    const to = from + 5 * 60_000 - 1;
    const { status, json } = (await getJson(
      `${collector.url}/api/services/timeline?from=${from}&to=${to}&buckets=10`,
    )) as { status: number; json: Timeline };
    expect(status).toBe(200);
    expect(json.step_s).toBe(60);
    expect(json.buckets).toHaveLength(5);
    expect(Date.parse(json.buckets[0]!)).toBe(from);
    const api = json.services.find((s) => s.service === 'api')!;
    expect(api.requests).toEqual([0, 3, 3, 3, 3]);
    expect(api.errors).toEqual([0, 0, 0, 0, 1]);
    expect(api.p50_ms[0]).toBeNull();
    expect(api.p99_ms[1]).toBeGreaterThan(0);
    const frontend = json.services.find((s) => s.service === 'frontend')!;
    expect(frontend.requests).toEqual([40, 0, 0, 0, 0]);
    const edge = json.edges.find((e) => e.from === 'api' && e.to === 'db')!;
    expect(edge.requests).toEqual([0, 3, 3, 3, 3]);
    expect(edge.p50_ms[2]).toBeCloseTo(1.2, 1);
  });

  it('picks longer buckets for a longer range, aligned on their length', async () => {
    const to = minute0 / 1000 + 5 * 60_000;
    const from = to - 3 * 3_600_000;
    const { json } = (await getJson(
      `${collector.url}/api/services/timeline?from=${from}&to=${to}&buckets=20`,
    )) as { json: Timeline };
    expect(json.step_s).toBe(600);
    expect(json.buckets.length).toBeLessThanOrEqual(20);
    for (const start of json.buckets) expect(Date.parse(start) % 600_000).toBe(0);
    const api = json.services.find((s) => s.service === 'api')!;
    expect(api.requests.reduce((a, b) => a + b, 0)).toBe(12);
  });
});
