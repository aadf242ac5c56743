import { describe, expect, it } from 'vitest';
import { classifyStatus, countRejected } from './outcome.js';

describe('classifyStatus (spec 4.1)', () => {
  it.each([
    [200, 'delivered'],
    [202, 'delivered'],
    [422, 'partial'],
    [400, 'dropped'],
    [401, 'dropped'],
    [403, 'dropped'],
    [404, 'dropped'],
    [413, 'dropped'],
    [415, 'dropped'],
    [301, 'dropped'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [null, 'retry'],
    [600, 'dropped'],
    [99, 'dropped'],
  ] as const)('%s -> %s', (status, outcome) => {
    expect(classifyStatus(status)).toBe(outcome);
  });
});

describe('countRejected', () => {
  it('counts the rejected list, at most the batch', () => {
    expect(
      countRejected('{"accepted":1,"duplicates":0,"rejected":[{"index":0,"errors":[]}]}', 5),
    ).toBe(1);
    expect(countRejected(JSON.stringify({ rejected: new Array(9).fill({}) }), 5)).toBe(5);
  });

  it('counts the whole batch when the answer cannot be read', () => {
    expect(countRejected('<html>', 5)).toBe(5);
    expect(countRejected('{}', 5)).toBe(5);
  });
});
