import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clockArb, clockKey } from './test-arbitraries.js';
import { type ClockOrder, isClockKey, MAX_CLOCK_COUNTER, VectorClock } from './vector-clock.js';

const A = 'api#00000001';
const B = 'web#0a1b2c3d';

describe('VectorClock', () => {
  it('reads absent components as 0', () => {
    const clock = new VectorClock({ [A]: 2 });
    expect(clock.get(A)).toBe(2);
    expect(clock.get(B)).toBe(0);
    expect(clock.size).toBe(1);
  });

  it('builds from a record, from pairs and from a Map', () => {
    const fromRecord = new VectorClock({ [A]: 2, [B]: 1 });
    const fromPairs = new VectorClock([
      [B, 1],
      [A, 2],
    ]);
    const fromMap = new VectorClock(
      new Map([
        [A, 2],
        [B, 1],
      ]),
    );
    expect(fromPairs.compare(fromRecord)).toBe('equal');
    expect(fromMap.compare(fromRecord)).toBe('equal');
  });

  it('refuses entries it could not send: bad component names and counters throw a RangeError', () => {
    expect(() => new VectorClock({ 'has space': 1 })).toThrow(RangeError);
    expect(() => new VectorClock({ '~dropped': 1 })).toThrow(/invalid component/);
    expect(() => new VectorClock({ [A]: 0 })).toThrow(/invalid counter/);
    expect(() => new VectorClock({ [A]: 1.5 })).toThrow(RangeError);
    expect(() => new VectorClock({ [A]: 2 ** 53 })).toThrow(RangeError);
    expect(() => new VectorClock().increment('')).toThrow(RangeError);
    expect(() => new VectorClock().merge({ [A]: -1 })).toThrow(RangeError);
  });

  it('refuses to count past 2^53-1', () => {
    const clock = new VectorClock({ [A]: Number.MAX_SAFE_INTEGER });
    expect(() => clock.increment(A)).toThrow(/exceed/);
    expect(clock.get(A)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('increment and merge mutate and return the same clock', () => {
    const clock = new VectorClock();
    expect(clock.increment(A)).toBe(clock);
    expect(clock.merge({ [B]: 3 })).toBe(clock);
    expect(clock.toJSON()).toEqual({ [A]: 1, [B]: 3 });
  });

  it('clone is independent of the original', () => {
    const original = new VectorClock({ [A]: 1 });
    const copy = original.clone().increment(A).increment(B);
    expect(original.toJSON()).toEqual({ [A]: 1 });
    expect(copy.toJSON()).toEqual({ [A]: 2, [B]: 1 });
  });

  it('toJSON lists keys in canonical byte order and keeps a __proto__ component', () => {
    const clock = new VectorClock([
      ['b', 1],
      ['B', 2],
      ['__proto__', 3],
      ['#', 4],
    ]);
    const json = clock.toJSON();
    expect(Object.keys(json)).toEqual(['#', 'B', '__proto__', 'b']);
    expect(Object.getPrototypeOf(json)).toBe(Object.prototype);
    expect(JSON.stringify(json)).toBe('{"#":4,"B":2,"__proto__":3,"b":1}');
  });

  it('reads a clock it does not recognise by instanceof through its iterator', () => {
    // What a clock from a second copy of the package (ESM next to CommonJS) looks like here.
    const foreign = {
      *[Symbol.iterator]() {
        yield [A, 4] as const;
      },
    };
    const clock = new VectorClock({ [B]: 1 }).merge(foreign as unknown as VectorClock);
    expect(clock.toJSON()).toEqual({ [A]: 4, [B]: 1 });
    expect([...new VectorClock({ [A]: 2 })]).toEqual([[A, 2]]);
  });

  it('happenedBefore and concurrentWith follow compare', () => {
    const a = new VectorClock({ [A]: 1 });
    const b = a.clone().increment(B);
    expect(a.happenedBefore(b)).toBe(true);
    expect(b.happenedBefore(a)).toBe(false);
    expect(a.concurrentWith({ [B]: 1 })).toBe(true);
    expect(a.concurrentWith(a)).toBe(false);
  });

  it('isClockKey accepts the wire alphabet only', () => {
    expect(isClockKey('checkout#1f3a9c07')).toBe(true);
    expect(isClockKey('AZaz09._:#@/+-')).toBe(true);
    expect(isClockKey('k'.repeat(65))).toBe(false);
    expect(isClockKey('a b')).toBe(false);
    expect(isClockKey(7)).toBe(false);
  });
});

describe('VectorClock properties', () => {
  const json = (clock: VectorClock) => clock.toJSON();
  const merged = (a: VectorClock, b: VectorClock) => a.clone().merge(b);

  it('merge is commutative', () => {
    fc.assert(
      fc.property(clockArb(), clockArb(), (a, b) => {
        expect(json(merged(a, b))).toEqual(json(merged(b, a)));
      }),
    );
  });

  it('merge is associative', () => {
    fc.assert(
      fc.property(clockArb(), clockArb(), clockArb(), (a, b, c) => {
        expect(json(merged(merged(a, b), c))).toEqual(json(merged(a, merged(b, c))));
      }),
    );
  });

  it('merge is idempotent', () => {
    fc.assert(
      fc.property(clockArb(), (a) => {
        expect(json(merged(a, a))).toEqual(json(a));
        expect(json(a.clone().merge(a.clone()))).toEqual(json(a));
      }),
    );
  });

  it('merge gives an upper bound: both inputs are before or equal to it', () => {
    fc.assert(
      fc.property(clockArb(), clockArb(), (a, b) => {
        const m = merged(a, b);
        expect(['before', 'equal']).toContain(a.compare(m));
        expect(['before', 'equal']).toContain(b.compare(m));
      }),
    );
  });

  it('compare agrees with merge', () => {
    fc.assert(
      fc.property(clockArb(), clockArb(), (a, b) => {
        const m = json(merged(a, b));
        const same = JSON.stringify(json(a)) === JSON.stringify(json(b));
        const mIsA = JSON.stringify(m) === JSON.stringify(json(a));
        const mIsB = JSON.stringify(m) === JSON.stringify(json(b));
        let expected: ClockOrder;
        if (same) expected = 'equal';
        else if (mIsB) expected = 'before';
        else if (mIsA) expected = 'after';
        else expected = 'concurrent';
        expect(a.compare(b)).toBe(expected);
      }),
    );
  });

  it('compare is antisymmetric', () => {
    const inverse: Record<ClockOrder, ClockOrder> = {
      before: 'after',
      after: 'before',
      equal: 'equal',
      concurrent: 'concurrent',
    };
    fc.assert(
      fc.property(clockArb(), clockArb(), (a, b) => {
        expect(b.compare(a)).toBe(inverse[a.compare(b)]);
      }),
    );
  });

  it('sortedKeys stays in canonical order as components are added, in the clock and its clones', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('increment' as const), key: clockKey }),
      fc.record({ kind: fc.constant('merge' as const), other: clockArb(4) }),
      fc.record({ kind: fc.constant('clone' as const) }),
    );
    fc.assert(
      fc.property(clockArb(4), fc.array(op, { maxLength: 12 }), (start, ops) => {
        let clock = start;
        for (const step of ops) {
          const handedOut = clock.sortedKeys();
          const snapshot = [...handedOut];
          // Counting past 2^53-1 throws (tested above); this property is about key order only.
          const canIncrement = (key: string) => clock.get(key) < MAX_CLOCK_COUNTER;
          if (step.kind === 'increment') {
            if (canIncrement(step.key)) clock.increment(step.key);
          } else if (step.kind === 'merge') clock.merge(step.other);
          else if (canIncrement('zz#00000000')) clock = clock.clone().increment('zz#00000000');
          const keys = Array.from(clock.entries(), ([key]) => key).sort();
          expect(clock.sortedKeys()).toEqual(keys);
          // An array handed out earlier is never changed afterwards.
          expect(handedOut).toEqual(snapshot);
        }
      }),
    );
  });

  it('an increment happens after the clock it started from', () => {
    fc.assert(
      fc.property(clockArb(), fc.constantFrom(A, B, 'z#00000000'), (a, own) => {
        fc.pre(a.get(own) < Number.MAX_SAFE_INTEGER);
        expect(a.compare(a.clone().increment(own))).toBe('before');
      }),
    );
  });
});
