import { describe, expect, it } from 'vitest';
import { HttpError } from '../errors.js';
import {
  cursorParam,
  encodeCursor,
  limitParam,
  rangeParams,
  timeParam,
  traceIdParam,
} from './params.js';

describe('query parameters', () => {
  it('reads times as ISO 8601 or epoch milliseconds, in microseconds', () => {
    expect(timeParam({ from: '2026-01-31T12:00:00Z' }, 'from')).toBe(
      Date.UTC(2026, 0, 31, 12) * 1000,
    );
    expect(timeParam({ from: '1769860800000' }, 'from')).toBe(1_769_860_800_000_000);
    expect(timeParam({}, 'from')).toBeUndefined();
    expect(() => timeParam({ from: 'monday' }, 'from')).toThrow(HttpError);
    expect(() => timeParam({ from: ['1', '2'] }, 'from')).toThrow(/more than once/);
  });

  it('defaults a range to the span before "to" and refuses an inverted one', () => {
    expect(rangeParams({ to: '10000' }, 4000)).toEqual({ fromUs: 6_000_000, toUs: 10_000_000 });
    expect(() => rangeParams({ from: '2', to: '1' }, 1000)).toThrow(/"from" is after "to"/);
  });

  it('bounds limits', () => {
    expect(limitParam({}, 50, 500)).toBe(50);
    expect(limitParam({ limit: '500' }, 50, 500)).toBe(500);
    expect(() => limitParam({ limit: '501' }, 50, 500)).toThrow(/from 1 to 500/);
  });

  it('round-trips cursors and rejects forged ones', () => {
    const cursor = encodeCursor(1_700_000_000_000_000, 'abc');
    expect(cursorParam({ cursor })).toEqual({ tsUs: 1_700_000_000_000_000, id: 'abc' });
    expect(() => cursorParam({ cursor: Buffer.from('[1]').toString('base64url') })).toThrow(
      /not a cursor/,
    );
    expect(() => cursorParam({ cursor: '!!!' })).toThrow(/not a cursor/);
  });

  it('normalises trace ids like the propagation contract', () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(traceIdParam(id.toUpperCase())).toBe(id);
    expect(traceIdParam('4bf92f35-77b3-4da6-a3ce-929d0e0e4736')).toBe(id);
    for (const bad of ['0'.repeat(32), 'xyz', `${id}0`]) {
      expect(() => traceIdParam(bad)).toThrow(expect.objectContaining({ statusCode: 400 }));
    }
  });
});
