import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeClock } from '../clock/codec.js';
import { clockArb } from '../clock/test-arbitraries.js';
import { isValidSpanId, isValidTraceId } from '../ids.js';
import { type HeaderValue, headersFromRecord, headersIntoRecord } from './carrier.js';
import { extractContext, REJECTION_REASONS } from './extract.js';
import { injectContext } from './inject.js';

// Every rule is pinned case by case in spec/vectors/extract.json; these tests cover carriers
// that misbehave and inputs no list can enumerate.

const T1 = '4bf92f3577b34da6a3ce929d0e0e4736';
const TP1 = `00-${T1}-00f067aa0ba902b7-01`;

describe('extractContext with misbehaving getters', () => {
  it('treats a throwing getter as headers that are absent', () => {
    const got = extractContext(() => {
      throw new Error('boom');
    });
    expect(got.status).toBe('absent');
  });

  it('ignores values of the wrong type', () => {
    const weird = { 'x-raceway-trace-id': 42, traceparent: { a: 1 }, tracestate: [null, 1] };
    const got = extractContext(
      (name) => weird[name as keyof typeof weird] as unknown as HeaderValue,
    );
    expect(got).toMatchObject({ traceId: null, status: 'absent', reasons: [] });
  });

  it('asks for lowercase names', () => {
    const asked: string[] = [];
    extractContext((name) => {
      asked.push(name);
      return undefined;
    });
    expect(asked.sort()).toEqual([
      'traceparent',
      'tracestate',
      'x-raceway-trace-id',
      'x-raceway-vc',
    ]);
  });
});

const headerName = fc.constantFrom(
  'X-Raceway-Trace-Id',
  'x-raceway-trace-id',
  'X-RACEWAY-VC',
  'x-raceway-vc',
  'traceparent',
  'TraceParent',
  'tracestate',
  'content-type',
);
const fragment = fc.oneof(
  fc.constantFrom(
    T1,
    T1.toUpperCase(),
    '4bf92f35-77b3-4da6-a3ce-929d0e0e4736',
    TP1,
    `01-${T1}-00f067aa0ba902b7-01-more`,
    '{"a#1":1,"~dropped":2}',
    '{}',
    'rojo=1,congo=2',
    '0'.repeat(32),
    ' ',
    ',',
  ),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const value = fc.oneof(
  fragment,
  fc.array(fragment, { maxLength: 3 }).map((parts) => parts.join(', ')),
  fc.array(fragment, { maxLength: 3 }),
);
const headers = fc.dictionary(fc.oneof(headerName, fc.string()), value, { maxKeys: 6 });

describe('extractContext properties', () => {
  it('never throws on arbitrary headers and always returns a coherent context', () => {
    fc.assert(
      fc.property(headers, (record) => {
        const got = extractContext(headersFromRecord(record));
        // Reasons: known, unique, in the order of the spec table.
        const order = got.reasons.map((r) => REJECTION_REASONS.indexOf(r));
        expect(order.every((i) => i >= 0)).toBe(true);
        expect([...order].sort((a, b) => a - b)).toEqual(order);
        expect(new Set(order).size).toBe(order.length);
        if (got.traceId === null) {
          expect(['absent', 'rejected']).toContain(got.status);
          expect(got.parentSpanId).toBeNull();
          expect(got.clock).toBeNull();
          expect(got.tracestate).toBeNull();
          if (got.status === 'absent') expect(got.reasons).toEqual([]);
        } else {
          expect(isValidTraceId(got.traceId)).toBe(true);
          expect(got.status).toBe(got.reasons.length === 0 ? 'accepted' : 'degraded');
          if (got.parentSpanId !== null) expect(isValidSpanId(got.parentSpanId)).toBe(true);
        }
        if (got.clock === null) expect(got.clockDropped).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('extracts what injection wrote', () => {
    const hex = (digits: number) =>
      fc.stringMatching(new RegExp(`^[0-9a-f]{${digits}}$`)).filter((id) => /[1-9a-f]/.test(id));
    const tracestate = fc.constantFrom(null, 'rojo=00f067aa0ba902b7', 'a=1,b@c=2');
    fc.assert(
      fc.property(
        hex(32),
        hex(16),
        clockArb(12),
        fc.nat({ max: 3 }),
        tracestate,
        fc.constantFrom('01', '03'),
        (traceId, spanId, clock, clockDropped, state, traceFlags) => {
          const carrier: Record<string, unknown> = {};
          injectContext(
            { traceId, spanId, traceFlags, clock, clockDropped, tracestate: state },
            headersIntoRecord(carrier),
          );
          const got = extractContext(headersFromRecord(carrier as Record<string, string>));
          expect(got).toMatchObject({
            traceId,
            parentSpanId: spanId,
            traceFlags,
            clockDropped,
            tracestate: state,
            status: 'accepted',
            reasons: [],
          });
          expect(got.clock && encodeClock(got.clock)).toBe(encodeClock(clock));
        },
      ),
    );
  });
});
