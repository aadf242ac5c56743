import { describe, expect, it } from 'vitest';
import { extractContext } from '../propagation/index.js';
import { incomingHeaders, noTraceHeaders, traceHeadersFromRawList } from './incoming-headers.js';
import { ABSENT_CONTEXT } from './server-lifecycle.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceHeadersFromRawList', () => {
  it('reads trace headers case-insensitively, keeping every copy', () => {
    const get = traceHeadersFromRawList([
      'X-Raceway-Trace-Id',
      TRACE,
      'Content-Type',
      'text/plain',
      'x-raceway-trace-id',
      'other',
    ]);
    expect(get('x-raceway-trace-id')).toEqual([TRACE, 'other']);
    expect(get('content-type')).toBeUndefined();
    expect(get('traceparent')).toBeUndefined();
  });

  it('reads Buffers as undici hands them out', () => {
    const get = traceHeadersFromRawList([Buffer.from('x-raceway-vc'), Buffer.from('{"a#1":1}')]);
    expect(get('X-Raceway-VC')).toBe('{"a#1":1}');
  });
});

describe('incomingHeaders', () => {
  it('tells conflicting copies of a clock apart (node would join them with a comma)', () => {
    const request = {
      headers: {},
      rawHeaders: [
        'x-raceway-trace-id',
        TRACE,
        'x-raceway-vc',
        '{"a#1":1}',
        'X-Raceway-VC',
        '{"a#1":2}',
      ],
    };
    const extracted = extractContext(incomingHeaders(request));
    expect(extracted.traceId).toBe(TRACE);
    expect(extracted.reasons).toEqual(['duplicate_conflict']);
  });

  it('hands out the shared empty getter when no trace header came, which extraction reads as absent', () => {
    const get = incomingHeaders({ headers: {}, rawHeaders: ['Host', 'x', 'Accept', '*/*'] });
    expect(get).toBe(noTraceHeaders);
    expect(extractContext(get)).toEqual(ABSENT_CONTEXT);
  });

  it('falls back to the headers object', () => {
    const extracted = extractContext(incomingHeaders({ headers: { 'x-raceway-trace-id': TRACE } }));
    expect(extracted.traceId).toBe(TRACE);
  });
});
