import { describe, expect, it } from 'vitest';
import { HttpError } from '../errors.js';
import {
  cursorParam,
  encodeCursor,
  parseDateTime,
  rangeParams,
  timeParam,
  traceIdParam,
} from './params.js';

describe('query parameters', () => {
  it('reads times as RFC 3339 date-times or epoch milliseconds, in microseconds', () => {
    expect(timeParam('from', '2026-01-31T12:00:00Z')).toBe(Date.UTC(2026, 0, 31, 12) * 1000);
    expect(timeParam('from', '1769860800000')).toBe(1_769_860_800_000_000);
    expect(timeParam('from', undefined)).toBeUndefined();
    expect(() => timeParam('from', 'monday')).toThrow(HttpError);
    expect(() => timeParam('from', '1969-12-31T23:59:59Z')).toThrow(/from 1970 to 9999/);
  });

  it('reads every date-time form ajv-formats accepts', () => {
    const noon = Date.UTC(2026, 0, 31, 12);
    for (const text of [
      '2026-01-31T12:00:00Z',
      '2026-01-31t12:00:00z',
      '2026-01-31 12:00:00Z',
      '2026-01-31T13:00:00+01:00',
      '2026-01-31T13:00:00+0100',
      '2026-01-31T13:00:00+01',
      '2026-01-31T11:30:00.000000-00:30',
    ]) {
      expect(parseDateTime(text), text).toBe(noon);
    }
    expect(parseDateTime('2026-01-31T12:00:00')).toBeNull();
  });

  it('defaults a range to the span before "to" and refuses an inverted one', () => {
    expect(rangeParams({ to: '10000' }, 4000)).toEqual({ fromUs: 6_000_000, toUs: 10_000_000 });
    expect(() => rangeParams({ from: '2', to: '1' }, 1000)).toThrow(/"from" is after "to"/);
  });

  it('round-trips cursors and rejects forged ones', () => {
    const cursor = encodeCursor(1_700_000_000_000_000, 'abc');
    expect(cursorParam(cursor)).toEqual({ tsUs: 1_700_000_000_000_000, id: 'abc' });
    expect(() => cursorParam(Buffer.from('[1]').toString('base64url'))).toThrow(/not a cursor/);
    expect(() => cursorParam('!!!')).toThrow(/not a cursor/);
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
