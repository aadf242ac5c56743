import { describe, expect, it } from 'vitest';
import { readRequestHeader, replaceRequestHeader, requestUrl } from './undici-request.js';

describe('undici request headers', () => {
  it('replaces every copy of a header in the array form (undici 6 and 7)', () => {
    const request = {
      origin: 'http://inventory:3000',
      path: '/items?x=1',
      headers: ['TraceParent', 'old-1', 'accept', '*/*', 'traceparent', 'old-2'],
    };
    replaceRequestHeader(request, 'traceparent', 'new');
    expect(request.headers).toEqual(['accept', '*/*', 'traceparent', 'new']);
    expect(readRequestHeader(request, 'TRACEPARENT')).toBe('new');
    expect(requestUrl(request)?.href).toBe('http://inventory:3000/items?x=1');
  });

  it('replaces in the string form (undici 5)', () => {
    const request = { headers: 'accept: */*\r\nX-Raceway-VC: {"a#1":1}\r\n' };
    replaceRequestHeader(request, 'X-Raceway-VC', '{"a#1":2}');
    expect(request.headers).toBe('accept: */*\r\nX-Raceway-VC: {"a#1":2}\r\n');
    expect(readRequestHeader(request, 'x-raceway-vc')).toBe('{"a#1":2}');
  });

  it('gives no URL for a request without an origin', () => {
    expect(requestUrl({ headers: [] })).toBeUndefined();
  });
});
