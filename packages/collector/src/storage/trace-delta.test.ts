import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../event.js';
import { traceDeltas as deltasOfRows, toEventRow } from './trace-delta.js';

const traceDeltas = (events: StoredEvent[]) => deltasOfRows(events.map((e) => toEventRow(e)));

let n = 0;
function event(
  kind: StoredEvent['kind'],
  over: Partial<StoredEvent> = {},
  data: Record<string, unknown> = {},
): StoredEvent {
  n++;
  return {
    id: n.toString(16).padStart(32, '0'),
    trace_id: 'a'.repeat(32),
    span_id: 'b'.repeat(16),
    parent_span_id: null,
    service: 'svc',
    instance: 'svc-1',
    component: 'svc#00000001',
    ts_us: 1000 + n,
    kind,
    clock: { 'svc#00000001': n },
    data,
    ...over,
  };
}

describe('traceDeltas', () => {
  it('counts events, spans and errors, and widens the time range', () => {
    const [delta] = traceDeltas([
      event('request_received', { ts_us: 50 }, { method: 'GET', path: '/a', incoming: {} }),
      event('request_sent', {}, { method: 'GET', url: 'http://x/', host: 'x' }),
      event('response_received', {}, { status: 503, duration_ms: 1 }),
      event('error', { ts_us: 9000 }, { type: 'E', message: 'm' }),
      event('response_sent', { service: 'other' }, { status: 200, duration_ms: 2 }),
    ]);
    expect(delta).toMatchObject({
      eventCount: 5,
      spanCount: 2,
      errorCount: 2,
      firstTsUs: 50,
      lastTsUs: 9000,
    });
    expect([...delta!.services].sort()).toEqual(['other', 'svc']);
  });

  it('prefers a request without parent as the root, then the earliest request', () => {
    const child = event(
      'request_received',
      { ts_us: 10, parent_span_id: 'c'.repeat(16), service: 'api' },
      { method: 'POST', path: '/p', route: '/r', incoming: {} },
    );
    const root = event(
      'request_received',
      { ts_us: 20, service: 'web' },
      { method: 'GET', path: '/home', incoming: {} },
    );
    expect(traceDeltas([child, root])[0]!.root).toMatchObject({
      exact: 1,
      service: 'web',
      route: '/home',
    });
    expect(traceDeltas([child])[0]!.root).toMatchObject({
      exact: 0,
      service: 'api',
      route: '/r',
      method: 'POST',
    });
  });

  it('returns deltas sorted by trace id (a fixed lock order for concurrent writers)', () => {
    const ids = traceDeltas([
      event('custom', { trace_id: 'f'.repeat(32) }),
      event('custom', { trace_id: '1'.repeat(32) }),
    ]).map((d) => d.traceId[0]);
    expect(ids).toEqual(['1', 'f']);
  });
});
