import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import { createTestDatabase, getJson, makeTrace, postBatch } from './fixtures.js';

// Events that one backend could store and the other could not. Whatever the backend, each is
// the client's fault (one entry of a 422), never "retry later" for the whole batch: a 503 makes
// the SDK send the same batch again and again, and its valid events are lost with it.

type Poison = [name: string, poison: (event: StoredEvent) => StoredEvent, kind?: string];

function withData(event: StoredEvent, data: Record<string, unknown>): StoredEvent {
  return { ...event, data: { ...(event.data as Record<string, unknown>), ...data } };
}

/** The corpus: one way to poison an event each; every one must be refused alike. */
const POISONS: Poison[] = [
  ['NUL in a value', (e) => withData(e, { route: 'a\u0000b' })],
  ['NUL in a key of a value', (e) => withData(e, { value: { 'k\u0000': 1 } }), 'state_write'],
  ['lone high surrogate', (e) => withData(e, { route: 'caf\ud800' })],
  ['lone low surrogate', (e) => withData(e, { route: '\udc00x' })],
  ['NUL in the service name', (e) => ({ ...e, service: 'shop\u0000' })],
  ['right-to-left override in the service name', (e) => ({ ...e, service: 'gnippohs\u202e' })],
  ['zero-width space in the instance', (e) => ({ ...e, instance: 'host\u200b1' })],
  ['a control character in the service name', (e) => ({ ...e, service: 'shop\u001b[31m' })],
];

/** Valid events around the poisoned ones, and what is expected of the answer. */
function poisonedBatch(): { events: StoredEvent[]; poisoned: number[] } {
  const events: StoredEvent[] = [];
  const poisoned: number[] = [];
  for (const [, poison, kind = 'request_received'] of POISONS) {
    const trace = makeTrace();
    const target = trace.findIndex((e) => e.kind === kind);
    poisoned.push(events.length + target);
    events.push(...trace.map((e, i) => (i === target ? poison(e) : e)));
  }
  // Unicode that every backend stores: an astral character (a surrogate pair), other scripts.
  const fine = makeTrace();
  const first = fine.findIndex((e) => e.kind === 'request_received');
  fine[first] = withData(fine[first]!, { route: '/😀/マグ' });
  events.push(...fine);
  return { events, poisoned };
}

/** Characters no name may hold (spec/schemas/event.schema.json), and none storable anywhere. */
const BAD_IN_NAMES = [
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u200b',
  '\u200f',
  '\u202e',
  '\u2066',
  '\ufeff',
];
const UNSTORABLE = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff'];
const FINE = ['é', '注', '😀', '\u00a0', ' ', '\\', '"', '%00'];

interface Insertion {
  event: number;
  field: 'service' | 'instance' | 'route';
  char: string;
  at: number;
}

/** Inserts `char` into a field of an event. */
function insert(events: StoredEvent[], { event, field, char, at }: Insertion): void {
  const target = events[event]!;
  const splice = (text: string) =>
    text.slice(0, at % (text.length + 1)) + char + text.slice(at % (text.length + 1));
  if (field === 'route') {
    const data = target.data as Record<string, unknown>;
    events[event] = withData(target, { route: splice(String(data.route ?? '/')) });
  } else {
    events[event] = { ...target, [field]: splice(target[field]) };
  }
}

// Judged on the final text, not per insertion: two insertions can pair a high and a low
// surrogate into one valid character, or split a pair that an earlier one inserted.
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const BAD_NAME_TEXT = new RegExp(`[${BAD_IN_NAMES.join('')}]`, 'u');

/** Whether the collector must refuse an event as it now stands. */
function mustRefuse(event: StoredEvent): boolean {
  const names = [event.service, event.instance];
  const route = event.kind === 'request_received' ? (event.data as { route?: string }).route : '';
  return (
    [...names, route ?? ''].some(
      (text) => text.includes('\u0000') || UNPAIRED_SURROGATE.test(text),
    ) || names.some((text) => BAD_NAME_TEXT.test(text))
  );
}

function poisonSuite(open: () => Promise<Collector>) {
  let collector: Collector;
  beforeAll(async () => {
    collector = await open();
  });
  afterAll(() => collector?.close());

  it('refuses each unstorable event with a 422 entry and stores its neighbours', async () => {
    const { events, poisoned } = poisonedBatch();
    const res = await postBatch(collector.url, { events });
    expect(res.status, res.text).toBe(422);
    expect(res.json.rejected.map((r: { index: number }) => r.index)).toEqual(poisoned);
    expect(res.json.accepted).toBe(events.length - poisoned.length);
    for (const [i, [name]] of POISONS.entries()) {
      const errors = res.json.rejected[i].errors.join('; ');
      expect(errors, name).toMatch(
        /U\+0000 or an unpaired surrogate|must match pattern|does not match/,
      );
    }
    // Sent again (an SDK retrying), nothing changes and nothing is stored twice.
    const again = await postBatch(collector.url, { events });
    expect(again.status).toBe(422);
    expect(again.json.duplicates).toBe(events.length - poisoned.length);
    const fine = events.at(-1)!;
    const stored = await getJson(`${collector.url}/api/traces/${fine.trace_id}`);
    expect(stored.status).toBe(200);
    expect(JSON.stringify(stored.json)).toContain('/😀/マグ');
  });

  it('refuses exactly the poisoned events of random batches, never with a 5xx (fuzz)', async () => {
    const insertion = fc.record({
      event: fc.nat({ max: 7 }),
      field: fc.constantFrom('service', 'instance', 'route'),
      char: fc.constantFrom(...BAD_IN_NAMES, ...UNSTORABLE, ...FINE),
      at: fc.nat({ max: 40 }),
    }) as fc.Arbitrary<Insertion>;
    await fc.assert(
      fc.asyncProperty(fc.array(insertion, { maxLength: 4 }), async (insertions) => {
        const events = makeTrace().slice(0, 8);
        for (const i of insertions) {
          if (i.field === 'route' && events[i.event]!.kind !== 'request_received') continue;
          insert(events, i);
        }
        const refused = new Set(events.flatMap((event, i) => (mustRefuse(event) ? [i] : [])));
        const res = await postBatch(collector.url, { events });
        expect(res.status, res.text).toBe(refused.size > 0 ? 422 : 200);
        const rejected = (res.json.rejected ?? []).map((r: { index: number }) => r.index);
        expect(rejected).toEqual([...refused].sort((a, b) => a - b));
        expect(res.json.accepted).toBe(events.length - refused.size);
      }),
      {
        numRuns: 60,
        examples: [
          [
            [
              { event: 2, field: 'route', char: '\udc00', at: 34 },
              { event: 2, field: 'route', char: '\udbff', at: 27 },
            ],
          ],
        ],
      },
    );
  });

  it('refuses a batch whose envelope cannot be stored with a 400, not a 503', async () => {
    const res = await postBatch(collector.url, null, {
      raw: `{"events":[${JSON.stringify(makeTrace()[0])}],"sdk":{"name":"x\\u0000","version":"1\\ud800"}}`,
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
}

describe('unstorable events on SQLite', () => {
  poisonSuite(() => startCollector({ port: 0, storage: 'sqlite::memory:' }));
});

const adminUrl = inject('pgUrl');
describe.skipIf(!adminUrl)(
  `unstorable events on PostgreSQL${adminUrl ? '' : ` (skipped: ${inject('pgSkipReason')})`}`,
  () => {
    poisonSuite(async () =>
      startCollector({ port: 0, storage: await createTestDatabase(adminUrl!) }),
    );
  },
);
