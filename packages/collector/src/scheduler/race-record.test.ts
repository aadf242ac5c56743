import { describe, expect, it } from 'vitest';
import { countFindings, raceRecord } from './race-record.js';

const access = (eventId: string, traceId: string, service: string, tsUs: number) => ({
  eventId,
  traceId,
  service,
  tsUs,
  clock: { x: 1 },
  value: { eventId: 'nested-not-an-access' },
});

describe('raceRecord', () => {
  it('files a cross-trace race under both traces, its resource and its services', () => {
    const race = {
      id: 'r1',
      resource: 'stock:1',
      accesses: [access('e2', 't2', 'billing', 20), access('e1', 't1', 'inventory', 10)],
    };
    expect(raceRecord(race, 'cross')).toEqual({
      id: 'r1',
      scope: 'cross',
      traceA: 't1',
      traceB: 't2',
      resource: 'stock:1',
      serviceA: 'inventory',
      serviceB: 'billing',
      tsUs: 10,
      lastTsUs: 20,
      race,
    });
  });

  it('derives a stable id when the race has none, and skips races that name no event', () => {
    const race = { resource: 'r', a: access('e1', 't', 's', 1), b: access('e2', 't', 's', 2) };
    const first = raceRecord(race, 'trace', 't');
    expect(first?.id).toMatch(/^[0-9a-f]{32}$/);
    expect(raceRecord({ ...race, b: race.b, a: race.a }, 'trace', 't')?.id).toBe(first?.id);
    expect(first).toMatchObject({ traceA: 't', traceB: null });
    expect(raceRecord({ resource: 'r' }, 'trace')).toBeNull();
  });
});

describe('countFindings', () => {
  it('adds up the top-level lists', () => {
    expect(
      countFindings({
        brokenChains: [1, 2],
        clockSkew: [],
        errors: [3],
        summary: { slowestServices: [1] },
      }),
    ).toBe(3);
    expect(countFindings(null)).toBe(0);
    expect(countFindings([1, 2])).toBe(2);
  });
});
