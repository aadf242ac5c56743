import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { schemaErrors, validateEvent } from '../../test/helpers/schemas.js';
import { runInContext } from '../context/async-context.js';
import { headersFromRecord } from '../propagation/carrier.js';
import { extractContext } from '../propagation/extract.js';
import { getTraceHeaders, mergeResponseHeaders } from './headers.js';

// Spec 2.7: every getTraceHeaders() is one client call; mergeResponseHeaders ends one.
function inContext(options = {}) {
  const { tracer, events } = recordingTracer('svc', options);
  const ctx = tracer.startContext({});
  const run = <T>(fn: () => T) => runInContext(ctx, fn);
  const ofKind = (kind: string) => events.filter((event) => event.kind === kind);
  return { ctx, events, run, ofKind };
}

const parentOf = (headers: Record<string, string>) =>
  extractContext(headersFromRecord(headers)).parentSpanId;

describe('manual calls', () => {
  it('three calls carry three client span ids, each with its request_sent', () => {
    const { ctx, run, ofKind } = inContext();
    const sent = run(() => [getTraceHeaders(), getTraceHeaders(), getTraceHeaders()]);
    const parents = sent.map(parentOf);
    expect(new Set(parents).size).toBe(3);
    expect(parents).not.toContain(ctx.spanId);
    expect(ofKind('request_sent').map((event) => event.span_id)).toEqual(parents);
    expect(ofKind('request_sent').every((event) => event.parent_span_id === ctx.spanId)).toBe(true);
  });

  it('records the target, so the call can be an edge of the dependency graph', () => {
    const { run, ofKind } = inContext();
    run(() => {
      const request = getTraceHeaders({
        url: 'http://inventory:3000/items/1?token=x',
        method: 'post',
      });
      mergeResponseHeaders({}, { status: 201, request });
    });
    expect(ofKind('request_sent')[0]?.data).toEqual({
      method: 'POST',
      url: 'http://inventory:3000/items/1',
      host: 'inventory:3000',
    });
    expect(ofKind('response_received')[0]?.data).toMatchObject({
      method: 'POST',
      url: 'http://inventory:3000/items/1',
      host: 'inventory:3000',
      status: 201,
    });
  });

  it('without a target (or with a URL that does not parse), records url and host unknown', () => {
    const { run, events } = inContext();
    run(() => {
      getTraceHeaders();
      getTraceHeaders({ url: 'not a url' });
      mergeResponseHeaders({});
    });
    const sent = events.filter((event) => event.kind === 'request_sent');
    expect(sent.map((event) => event.data)).toEqual([
      { method: 'GET', url: 'unknown', host: 'unknown' },
      { method: 'GET', url: 'unknown', host: 'unknown' },
    ]);
    for (const event of events) {
      expect(validateEvent(JSON.parse(JSON.stringify(event))), schemaErrors(validateEvent)).toBe(
        true,
      );
    }
  });

  it('a response goes to the call whose headers are named, else to the oldest open call', () => {
    const { ctx, run, ofKind } = inContext();
    run(() => {
      const a = getTraceHeaders({ url: 'http://a/' });
      getTraceHeaders({ url: 'http://b/' });
      const c = getTraceHeaders({ url: 'http://c/' });
      mergeResponseHeaders({}, { request: c, status: 200 });
      mergeResponseHeaders({}, { status: 200 }); // the oldest open: a
      mergeResponseHeaders({}, { status: 200 }); // then b
      mergeResponseHeaders({}, { request: a, status: 200 }); // a is over: only a clock merge
    });
    const hosts = ofKind('response_received').map((event) => (event.data as { host: string }).host);
    expect(hosts).toEqual(['c', 'a', 'b']);
    for (const event of ofKind('response_received')) expect(event.parent_span_id).toBe(ctx.spanId);
  });

  it('merges the callee clock before response_received', () => {
    const { ctx, run, ofKind } = inContext();
    const callee = 'api#0000beef';
    run(() => {
      const request = getTraceHeaders({ url: 'http://api/' });
      mergeResponseHeaders(
        new Headers({ 'X-Raceway-Trace-Id': ctx.traceId, 'X-Raceway-VC': `{"${callee}":4}` }),
        { request, status: 200 },
      );
    });
    const received = ofKind('response_received')[0]!;
    expect(received.clock[callee]).toBe(4);
    expect(received.data).toMatchObject({ remote_clock: true });
  });

  it('records a failed call with its error', () => {
    const { run, ofKind } = inContext();
    run(() => {
      const request = getTraceHeaders({ url: 'http://api/' });
      mergeResponseHeaders(undefined, { request, error: new Error('ECONNREFUSED') });
    });
    expect(ofKind('response_received')[0]?.data).toMatchObject({
      error: { type: 'Error', message: 'ECONNREFUSED' },
    });
  });

  it('an unsampled context records nothing and sends no clock, but still propagates', () => {
    const { ctx, run, events } = inContext({ sampleRate: 0 });
    const headers = run(() => {
      const sent = getTraceHeaders({ url: 'http://api/' });
      mergeResponseHeaders({}, { request: sent, status: 200 });
      return sent;
    });
    expect(ctx.sampled).toBe(false);
    expect(events).toEqual([]);
    expect(Object.keys(headers).sort()).toEqual(['X-Raceway-Trace-Id', 'traceparent']);
    expect(headers.traceparent).toMatch(/-02$/);
  });

  it('outside a context: no headers, and merging does nothing', () => {
    expect(getTraceHeaders({ url: 'http://api/' })).toEqual({});
    expect(() => mergeResponseHeaders({}, { status: 200 })).not.toThrow();
  });
});
