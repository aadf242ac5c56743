import { describe, expect, it } from 'vitest';
import { clockSkew } from './clock-skew.js';
import type { Span } from './spans.js';

const TOLERANCE_US = 5000;

/** A client call from instance a to instance b with the four timestamps t1..t4 (us). */
function call(t1: number, t2: number, t3: number, t4: number): Span[] {
  const base = { complete: true, failed: false, parentSpanId: null, parent: null } as const;
  const server = {
    ...base,
    spanId: 's',
    kind: 'server',
    service: 'auth',
    instance: 'b',
    name: 'GET /check',
    startUs: t2,
    endUs: t3,
    children: [],
  } as unknown as Span;
  const client = {
    ...base,
    spanId: 'c',
    kind: 'client',
    service: 'api',
    instance: 'a',
    name: 'GET http://auth/check',
    startUs: t1,
    endUs: t4,
    children: [server],
  } as unknown as Span;
  return [client, server];
}

describe('clockSkew', () => {
  it('reports no skew for an uneven round trip that respects happens-before', () => {
    // One clock: the request took 15 ms to be read (a busy callee), the answer 0.5 ms.
    // NTP's offset is 7.25 ms, but within +- half the 15.5 ms round trip: no evidence.
    expect(clockSkew(call(0, 15_000, 16_000, 16_500), TOLERANCE_US)).toEqual([]);
  });

  it('reports a callee that answered after its answer arrived', () => {
    // The callee's clock is 80 ms ahead.
    const [skew] = clockSkew(call(0, 81_000, 82_000, 3000), TOLERANCE_US);
    expect(skew).toMatchObject({ calleeInstance: 'b', violations: 1, offsetMs: 80 });
  });

  it('reports a callee that received before the call was sent', () => {
    const [skew] = clockSkew(call(100_000, 21_000, 22_000, 103_000), TOLERANCE_US);
    expect(skew).toMatchObject({ violations: 1, offsetMs: -80 });
  });
});
