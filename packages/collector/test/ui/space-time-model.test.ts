import { describe, expect, it } from 'vitest';
import { type EventStep, stepEvent } from '../../ui/src/space-time-keys.js';
import { buildSpaceTime, servicesToFold } from '../../ui/src/space-time-model.js';
import { mergePages, outlineSpans } from '../../ui/src/trace-pages.js';
import {
  ancestorIds,
  clampWindow,
  countDescendants,
  indexSpans,
  searchSpans,
  visibleRows,
} from '../../ui/src/trace-tree.js';
import type { Span, SpanEvent, SpanOutline } from '../../ui/src/types.js';

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

describe('visibleRows', () => {
  it('lists spans depth-first with their depth', () => {
    const rows = visibleRows([root], new Set(), new Map());
    expect(rows.map(({ span: s, depth }) => `${s.span_id}:${depth}`)).toEqual([
      's-web:0',
      'c-web:1',
      's-api:2',
    ]);
  });
});

describe('a service folded into one column', () => {
  const folded = buildSpaceTime([root], new Set(['web']));
  const row = (id: string) => folded.events[folded.byId.get(id)!]!.row;

  it('draws its contexts in one column, the other services as before', () => {
    expect(folded.groups.map((g) => [g.service, g.components, g.folded])).toEqual([
      ['web', ['2 contexts'], true],
      ['api', ['api#b'], false],
    ]);
    expect(folded.columns).toBe(2);
  });

  it('gives each event of the shared column a row of its own, in happens-before order', () => {
    const web = ['a1', 'a2', 'a3', 'a4', 'c1', 'a5', 'a6'].map(row);
    expect(new Set(web).size).toBe(web.length);
    expect([...web].sort((x, y) => x - y)).toEqual(web);
  });

  it('starts folded only for services of many contexts', () => {
    expect(servicesToFold([root])).toEqual(new Set());
    const many = span(
      's-many',
      'worker',
      'server',
      Array.from({ length: 8 }, (_, i) =>
        event(`w${i}`, 'custom', `worker#${i}`, { [`worker#${i}`]: 1 }),
      ),
    );
    expect(servicesToFold([root, many])).toEqual(new Set(['worker']));
  });
});

describe('the waterfall of a big trace', () => {
  const descendants = countDescendants([root]);

  it('counts the spans below each span', () => {
    expect(Object.fromEntries(descendants)).toEqual({ 's-web': 2, 'c-web': 1, 's-api': 0 });
  });

  it('leaves out the spans below a folded span, and only those', () => {
    const rows = visibleRows([root], new Set(['c-web']), descendants);
    expect(rows.map((r) => `${r.span.span_id}:${r.descendants}`)).toEqual(['s-web:2', 'c-web:1']);
  });

  it('finds spans by name, attribute and event field, every word', () => {
    expect(searchSpans([root], 'service=api')).toEqual(['s-api']);
    expect(searchSpans([root], 'ROW:1')).toEqual(['s-web', 's-api']);
    expect(searchSpans([root], 'row:1 state_write')).toEqual(['s-api']);
    expect(searchSpans([root], 'nothing')).toEqual([]);
    expect(searchSpans([root], '   ')).toEqual([]);
  });

  it('names the spans above a span, to unfold the way to it', () => {
    const byId = indexSpans([root]);
    const linked = new Map(
      [...byId].map(([id, s]) => [
        id,
        { ...s, parent_span_id: id === 's-api' ? 'c-web' : id === 'c-web' ? 's-web' : null },
      ]),
    );
    expect(ancestorIds('s-api', linked)).toEqual(['c-web', 's-web']);
    expect(ancestorIds('s-web', linked)).toEqual([]);
  });

  it('keeps a zoom window inside the trace and forgets one that covers it all', () => {
    expect(clampWindow({ fromMs: -5, toMs: 40 }, 100)).toEqual({ fromMs: 0, toMs: 40 });
    expect(clampWindow({ fromMs: 60, toMs: 20 }, 100)).toEqual({ fromMs: 20, toMs: 60 });
    expect(clampWindow({ fromMs: -1, toMs: 101 }, 100)).toBeNull();
    expect(clampWindow({ fromMs: 50, toMs: 50 }, 100)).toEqual({ fromMs: 50, toMs: 50.1 });
  });
});

describe('merging an outline with pages of events', () => {
  it('keeps the outline’s tree and names when a page names a span from part of its events', () => {
    const { events: _, ...bare } = client;
    const outline = outlineSpans([
      {
        ...root,
        event_count: 0,
        children: [{ ...bare, parent_span_id: 's-web', event_count: 0, children: [] }],
      },
    ] as unknown as SpanOutline[]);
    // A page that holds the client's events only: it knows neither its parent nor its name.
    const page = [{ ...client, name: 'web', parent_span_id: null, children: [] }];
    const merged = mergePages([outline, page]);
    expect(merged.map((s) => s.span_id)).toEqual(['s-web']);
    const call = merged[0]!.children[0]!;
    expect(call.name).toBe('c-web');
    expect(call.events.map((e) => e.id)).toEqual(['a2', 'a3']);
  });
});

describe('stepEvent (the arrow keys in the diagram)', () => {
  const model = buildSpaceTime([root]);
  const step = (from: string, key: EventStep) =>
    model.events[stepEvent(model, model.byId.get(from)!, key)]!.event.id;

  it('follows a context up and down, and stays at its ends', () => {
    expect(step('a1', 'down')).toBe('a2');
    expect(step('a2', 'down')).toBe('a3');
    expect(step('a3', 'up')).toBe('a2');
    expect(step('a1', 'up')).toBe('a1');
    expect(step('a6', 'down')).toBe('a6');
  });

  it('goes to the nearest event in row of the next context on either side', () => {
    // web#a, web#c and api#b are columns 0, 1 and 2; web#c's one event is c1.
    expect(step('a2', 'right')).toBe('c1');
    expect(step('c1', 'right')).toBe('b3');
    expect(step('b1', 'left')).toBe('c1');
    expect(step('c1', 'left')).toBe('a4');
    expect(step('b2', 'right')).toBe('b2');
    expect(step('a1', 'left')).toBe('a1');
  });

  it('goes to the first and the last event in happens-before order', () => {
    expect(step('b2', 'first')).toBe('a1');
    expect(step('b2', 'last')).toBe('a6');
  });
});
