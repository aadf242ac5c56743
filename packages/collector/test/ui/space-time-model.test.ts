import { describe, expect, it } from 'vitest';
import { buildSpaceTime, flattenSpans } from '../../ui/src/space-time-model.js';
import type { Span, SpanEvent } from '../../ui/src/types.js';

// The space-time view's layout: every arrow and every context's own order point downwards.

function event(
  id: string,
  kind: string,
  component: string,
  clock: Record<string, number>,
  data = {},
): SpanEvent {
  return {
    id,
    kind,
    component,
    clock,
    ts_us: 1_000 + Object.values(clock).reduce((a, b) => a + b, 0),
    data,
  };
}

function span(
  id: string,
  service: string,
  kind: Span['kind'],
  events: SpanEvent[],
  children: Span[] = [],
): Span {
  return {
    span_id: id,
    parent_span_id: null,
    parent_missing: false,
    service,
    instance: `${service}-1`,
    kind,
    name: id,
    method: null,
    route: null,
    url: null,
    host: null,
    status: null,
    error: null,
    failed: false,
    complete: true,
    incoming: null,
    start_us: events[0]?.ts_us ?? 0,
    start: '',
    duration_ms: 1,
    events,
    children,
  };
}

// web#a calls api#b (which writes a row), forks web#c, joins it, and answers.
const callee = span('s-api', 'api', 'server', [
  event('b1', 'request_received', 'api#b', { 'web#a': 2, 'api#b': 1 }),
  event('b2', 'state_write', 'api#b', { 'web#a': 2, 'api#b': 2 }, { resource: 'row:1' }),
  event('b3', 'response_sent', 'api#b', { 'web#a': 2, 'api#b': 3 }),
]);
const client = span(
  'c-web',
  'web',
  'client',
  [
    event('a2', 'request_sent', 'web#a', { 'web#a': 2 }),
    event('a3', 'response_received', 'web#a', { 'web#a': 3, 'api#b': 3 }),
  ],
  [callee],
);
const root = span(
  's-web',
  'web',
  'server',
  [
    event('a1', 'request_received', 'web#a', { 'web#a': 1 }),
    event('a4', 'fork', 'web#a', { 'web#a': 4, 'api#b': 3 }, { child: 'web#c' }),
    event(
      'c1',
      'state_read',
      'web#c',
      { 'web#a': 4, 'api#b': 3, 'web#c': 1 },
      { resource: 'row:1' },
    ),
    event('a5', 'join', 'web#a', { 'web#a': 5, 'api#b': 3, 'web#c': 1 }, { child: 'web#c' }),
    event('a6', 'response_sent', 'web#a', { 'web#a': 6, 'api#b': 3, 'web#c': 1 }),
  ],
  [client],
);

describe('buildSpaceTime', () => {
  const model = buildSpaceTime([root]);
  const row = (id: string) => model.events[model.byId.get(id)!]!.row;

  it('gives every execution context a column, grouped by service', () => {
    expect(model.groups.map((g) => [g.service, g.components])).toEqual([
      ['web', ['web#a', 'web#c']],
      ['api', ['api#b']],
    ]);
    expect(model.columns).toBe(3);
  });

  it('draws calls, responses, fork and join as arrows', () => {
    const arrows = model.arrows.map(
      (a) => `${model.events[a.from]!.event.id}->${model.events[a.to]!.event.id}:${a.kind}`,
    );
    expect(arrows.sort()).toEqual(
      ['a2->b1:call', 'a4->c1:fork', 'b3->a3:response', 'c1->a5:join'].sort(),
    );
  });

  it('puts every event below what happens before it', () => {
    for (const arrow of model.arrows) {
      expect(model.events[arrow.to]!.row).toBeGreaterThan(model.events[arrow.from]!.row);
    }
    const ownOrder = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map(row);
    expect([...ownOrder].sort((x, y) => x - y)).toEqual(ownOrder);
    expect(new Set(ownOrder).size).toBe(ownOrder.length);
    // The callee's write sits between the call and the response.
    expect(row('b2')).toBeGreaterThan(row('a2'));
    expect(row('b2')).toBeLessThan(row('a3'));
  });
});

describe('flattenSpans', () => {
  it('lists spans depth-first with their depth', () => {
    expect(flattenSpans([root]).map(({ span: s, depth }) => `${s.span_id}:${depth}`)).toEqual([
      's-web:0',
      'c-web:1',
      's-api:2',
    ]);
  });
});
