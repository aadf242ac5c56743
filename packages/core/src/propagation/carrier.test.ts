import { describe, expect, it } from 'vitest';
import {
  headerCopies,
  headersFromRecord,
  headersIntoRecord,
  singleHeader,
  trimOws,
} from './carrier.js';

describe('headersFromRecord', () => {
  it('reads names case-insensitively', () => {
    const get = headersFromRecord({ 'X-Raceway-Trace-Id': 'abc', traceparent: 'tp' });
    expect(get('x-raceway-trace-id')).toBe('abc');
    expect(get('traceparent')).toBe('tp');
    expect(get('tracestate')).toBeUndefined();
  });

  it('reads numbers as strings and lists as lists', () => {
    const get = headersFromRecord({ 'content-length': 42, tracestate: ['a=1', 'b=2'] });
    expect(get('content-length')).toBe('42');
    expect(get('tracestate')).toEqual(['a=1', 'b=2']);
  });

  it('reads a name present under several spellings as a header received several times', () => {
    const get = headersFromRecord({ traceparent: 'one', TraceParent: ['two', 'three'] });
    expect(get('traceparent')).toEqual(['one', 'two', 'three']);
  });

  it('skips undefined values and non-string list items', () => {
    const get = headersFromRecord({
      traceparent: undefined,
      tracestate: ['a=1', 7 as unknown as string],
    });
    expect(get('traceparent')).toBeUndefined();
    expect(get('tracestate')).toBe('a=1');
  });

  it('sees changes made to the object after it was created', () => {
    const headers: Record<string, string> = {};
    const get = headersFromRecord(headers);
    headers['X-Raceway-VC'] = '{}';
    expect(get('x-raceway-vc')).toBe('{}');
  });

  it('tolerates a missing object', () => {
    const get = headersFromRecord(null as unknown as Record<string, string>);
    expect(get('traceparent')).toBeUndefined();
  });
});

describe('headersIntoRecord', () => {
  it('replaces every spelling of the name with one copy under the given name', () => {
    const headers: Record<string, unknown> = { traceparent: 'a', TRACEPARENT: 'b', accept: '*/*' };
    headersIntoRecord(headers)('traceparent', 'new');
    expect(headers).toEqual({ traceparent: 'new', accept: '*/*' });
  });

  it('does not throw on a frozen object', () => {
    const headers = Object.freeze({ traceparent: 'a' }) as Record<string, unknown>;
    expect(() => headersIntoRecord(headers)('traceparent', 'b')).not.toThrow();
    expect(headers.traceparent).toBe('a');
  });
});

describe('header copies', () => {
  it('trims space and tab only', () => {
    expect(trimOws(' \t a b \t ')).toBe('a b');
    expect(trimOws('\u00a0a\n')).toBe('\u00a0a\n');
    expect(trimOws('')).toBe('');
  });

  it('splits comma-joined copies only when asked, and leaves out empty copies', () => {
    expect(headerCopies(' a , b ,, ', true)).toEqual(['a', 'b']);
    expect(headerCopies(' a , b ', false)).toEqual(['a , b']);
    expect(headerCopies(['', ' x ', 3], false)).toEqual(['x']);
    expect(headerCopies(undefined, true)).toEqual([]);
  });

  it('reduces copies to one value only when all are identical', () => {
    expect(singleHeader([])).toEqual({ kind: 'absent' });
    expect(singleHeader(['a', 'a'])).toEqual({ kind: 'value', value: 'a' });
    expect(singleHeader(['a', 'A'])).toEqual({ kind: 'conflict' });
  });
});
