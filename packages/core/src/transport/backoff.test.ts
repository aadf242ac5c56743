import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, retryDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('draws from the whole interval up to base * 2^attempt (full jitter)', () => {
    expect(backoffDelay(0, 250, 10_000, () => 0.999)).toBe(249);
    expect(backoffDelay(3, 250, 10_000, () => 0.5)).toBe(1000);
    expect(backoffDelay(3, 250, 10_000, () => 0)).toBe(0);
  });

  it('is capped', () => {
    expect(backoffDelay(20, 250, 10_000, () => 0.999)).toBe(9990);
    expect(backoffDelay(5000, 250, 10_000, () => 0.5)).toBe(5000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter('-1')).toBeNull();
  });

  it('reads the obsolete HTTP date forms in UTC, whatever the local time zone', () => {
    const now = Date.parse('2015-10-21T07:27:00Z');
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:28:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed Oct 21 07:28:00 2015', now)).toBe(60_000);
    expect(parseRetryAfter('Wed Oct  7 07:28:00 2015', now)).toBe(0);
  });

  it('takes only HTTP dates: a weekday, a month name, GMT, a day that exists', () => {
    const now = Date.parse('2015-10-21T07:27:00Z');
    expect(parseRetryAfter('2015-10-21T07:28:00Z', now)).toBeNull();
    expect(parseRetryAfter('21 Oct 2015 07:28:00 GMT', now)).toBeNull();
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00', now)).toBeNull();
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 +0200', now)).toBeNull();
    expect(parseRetryAfter('Sat, 31 Feb 2015 07:28:00 GMT', now)).toBeNull();
    expect(parseRetryAfter('Wed, 21 Oct 2015 24:28:00 GMT', now)).toBeNull();
  });
});

describe('retryDelay', () => {
  it('is the jitter raised to Retry-After, within the cap', () => {
    expect(retryDelay(2, undefined, 0, () => 0.5, 250, 5000)).toBe(500);
    expect(retryDelay(2, '3', 0, () => 0.5, 250, 5000)).toBe(3000);
    expect(retryDelay(2, '60', 0, () => 0.5, 250, 5000)).toBe(5000);
    expect(retryDelay(2, 'soon', 0, () => 0.5, 250, 5000)).toBe(500);
  });
});
