import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../analyze-trace.js';
import type { Event } from '../event.js';
import type { AnalysisOptions } from '../options.js';
import { arbitraryProgram, runProgram } from '../test-support/random-trace.js';
import { checkoutFanOut } from '../test-support/scenarios.js';
import { hexId } from '../test-support/trace-simulator.js';
import { IncrementalTraceAnalysis } from './incremental-analysis.js';
import { byTimeThenId } from './resource-races.js';

/**
 * The requests of a trace made calls of one outer request (a gateway that received them all):
 * the whole trace is one request tree, whose appends land anywhere in it.
 */
function underOneRequest(events: Event[]): Event[] {
  const span = hexId(16);
  const first = events.reduce((a, e) => (e.ts_us < a.ts_us ? e : a));
  const last = events.reduce((a, e) => (e.ts_us > a.ts_us ? e : a));
  const outer = (kind: Event['kind'], tsUs: number, data: Record<string, unknown>): Event => ({
    id: hexId(32),
    trace_id: first.trace_id,
    span_id: span,
    parent_span_id: null,
    service: 'gateway',
    instance: 'gateway-1',
    component: 'gateway#1',
    ts_us: tsUs,
    kind,
    clock: { 'gateway#1': kind === 'request_received' ? 1 : 2 },
    data: { method: 'GET', route: '/batch', ...data },
  });
  return [
    outer('request_received', first.ts_us - 5, {}),
    ...events.map((e) => (e.parent_span_id === null ? { ...e, parent_span_id: span } : e)),
    outer('response_sent', last.ts_us + 5, { status: 200 }),
  ];
}

/**
 * What a long-lived trace looks like: several requests (random programs) under one trace id,
 * side by side or all under one outer request.
 */
const arbitraryTrace = fc
  .record({
    programs: fc.array(arbitraryProgram(40), { minLength: 1, maxLength: 6 }),
    oneTree: fc.boolean(),
    // Requests overlap in time or follow one another.
    gapsMs: fc.array(fc.integer({ min: -5, max: 30 }), { minLength: 6, maxLength: 6 }),
    // Answers that fail (status 503), by position among the answers.
    failures: fc.array(fc.nat({ max: 40 }), { maxLength: 4 }),
    // Answers that fail with every answer above them: errors that travel up to the root.
    failingChains: fc.array(fc.nat({ max: 40 }), { maxLength: 2 }),
    // One service's clock off by this much: clock skew, shifted spans on the critical path.
    skewMs: fc.constantFrom(0, 0, 12, -40),
    fanOut: fc.boolean(),
    resources: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ programs, oneTree, gapsMs, failures, failingChains, skewMs, fanOut, resources }) => {
    let events: Event[] = [];
    let offsetUs = 0;
    programs.forEach((steps, i) => {
      const request = runProgram(steps, { resources });
      const start = request[0]!.ts_us;
      for (const e of request) events.push({ ...e, ts_us: e.ts_us - start + offsetUs });
      offsetUs = (events.at(-1)?.ts_us ?? 0) + gapsMs[i]! * 1000;
    });
    if (fanOut) for (const e of checkoutFanOut({ taxSkewMs: 30 }).events) events.push({ ...e });
    if (oneTree) events = underOneRequest(events);
    const traceId = events[0]!.trace_id;
    const base = 1_700_000_000_000_000;
    const answers = events.filter(
      (e) => e.kind === 'response_sent' || e.kind === 'response_received',
    );
    const failing = new Set(failures.map((i) => answers[i % Math.max(answers.length, 1)]));
    const parentOf = new Map(events.map((e) => [e.span_id, e.parent_span_id]));
    const failingSpans = new Set<string>();
    for (const i of failingChains) {
      let span = answers[i % Math.max(answers.length, 1)]?.span_id;
      for (; span != null && !failingSpans.has(span); span = parentOf.get(span) ?? undefined) {
        failingSpans.add(span);
      }
    }
    for (const e of answers) if (failingSpans.has(e.span_id)) failing.add(e);
    return events.map((e) => ({
      ...e,
      trace_id: traceId,
      ts_us:
        (e.ts_us < base ? base + e.ts_us : e.ts_us) +
        (e.service === 'inventory' ? skewMs * 1000 : 0),
      ...(failing.has(e) ? { data: { ...e.data, status: 503 } } : {}),
    }));
  });

/**
 * The events cut into random batches, in time order (a trickle) or in a random order (late
 * events, batches of several collectors): appends as they may arrive.
 */
const arbitraryBatches = (events: Event[]) =>
  fc
    .tuple(
      fc.oneof(
        fc.constant([...events].sort(byTimeThenId)),
        fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
      ),
      fc.array(fc.nat({ max: events.length }), { maxLength: 6 }),
    )
    .map(([shuffled, cuts]) => {
      const at = [...new Set([0, ...cuts, shuffled.length])].sort((a, b) => a - b);
      return at.slice(1).map((end, i) => shuffled.slice(at[i]!, end));
    });

const arbitraryOptions: fc.Arbitrary<AnalysisOptions> = fc.record({
  // A low limit sends resources with several contexts to the bounded detector; a low event
  // budget cuts the trace.
  budget: fc.constantFrom({}, { exactMaxContexts: 2 }, { maxEvents: 30 }),
});

/** Makes the events of a hand-written trace: ids and clocks numbered in the order made. */
function eventMaker() {
  let n = 0;
  return (
    kind: string,
    span: string,
    parent: string | null,
    service: string,
    tsUs: number,
    data: Record<string, unknown> = {},
  ): Event => ({
    id: (++n).toString(16).padStart(32, '0'),
    trace_id: 'a'.repeat(32),
    span_id: span,
    parent_span_id: parent,
    service,
    instance: `${service}-1`,
    component: `${service}#${span}`,
    ts_us: tsUs,
    kind: kind as Event['kind'],
    clock: { [`${service}#${span}`]: n },
    data: { method: 'GET', url: 'http://b:80/', host: 'b:80', status: 200, ...data },
  });
}

const full = (events: readonly Event[], options: AnalysisOptions) =>
  analyzeTrace([...events].sort(byTimeThenId), options);

describe('IncrementalTraceAnalysis', () => {
  it('gives after every append what a full analysis of the events so far gives', () => {
    fc.assert(
      fc.property(
        arbitraryTrace.chain((events) =>
          fc.tuple(fc.constant(events), arbitraryBatches(events), arbitraryOptions),
        ),
        ([, batches, options]) => {
          const state = new IncrementalTraceAnalysis(options);
          const seen: Event[] = [];
          for (const batch of batches) {
            state.append(batch);
            seen.push(...batch);
            const expected = full(seen, options);
            const actual = state.result();
            expect(actual.races).toEqual(expected.races);
            expect(actual.criticalPath).toEqual(expected.criticalPath);
            expect(actual.diagnostics).toEqual(expected.diagnostics);
            expect(actual).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('folds appends in instead of analysing the trace again', () => {
    const events = checkoutFanOut({ taxSkewMs: 30 }).events;
    const state = new IncrementalTraceAnalysis();
    state.append(events.slice(0, 10));
    state.result();
    state.append(events.slice(10));
    expect(state.mode).toEqual({ incremental: true });
    expect(state.result()).toEqual(full(events, {}));
  });

  it('keeps the first of two calls with the same round trip as the skew estimate, whatever arrives first', () => {
    // Two requests of a-1 calling b-1, each call 80 µs outside b-1 but with offsets 9.96 and
    // 19.96 ms: a walk over all spans keeps the earlier call's.
    const event = eventMaker();
    const request = (i: number, t1: number, t2: number) => [
      event('request_received', `r${i}`.padEnd(16, '0'), null, 'a', t1 - 10),
      event('request_sent', `c${i}`.padEnd(16, '0'), `r${i}`.padEnd(16, '0'), 'a', t1),
      event('request_received', `s${i}`.padEnd(16, '0'), `c${i}`.padEnd(16, '0'), 'b', t2),
      event('response_sent', `s${i}`.padEnd(16, '0'), `c${i}`.padEnd(16, '0'), 'b', t2 + 20),
      event('response_received', `c${i}`.padEnd(16, '0'), `r${i}`.padEnd(16, '0'), 'a', t1 + 100),
      event('response_sent', `r${i}`.padEnd(16, '0'), null, 'a', t1 + 110),
    ];
    const first = request(1, 1_000_000, 1_010_000);
    const second = request(2, 2_000_000, 2_021_000);
    const state = new IncrementalTraceAnalysis();
    state.append(second);
    state.result();
    state.append(first);
    const expected = full([...first, ...second], {});
    expect(expected.diagnostics.clockSkew[0]).toMatchObject({ offsetMs: 9.96, samples: 2 });
    expect(state.result()).toEqual(expected);
  });

  it('keeps the spans of a built tree that joins another one through spans new to both', () => {
    const event = eventMaker();
    const id = (name: string) => name.padEnd(16, '0');
    // Two trees built apart: four requests under a caller `p` that reported nothing yet, and
    // a call `a` made from `x`, which reported nothing yet either.
    const first = [
      ...[1, 2, 3, 4].flatMap((i) => [
        event('request_received', id(`b${i}`), id('p'), 'b', 1_000_000 + i * 100),
        event('response_sent', id(`b${i}`), id('p'), 'b', 1_000_050 + i * 100),
      ]),
      event('request_sent', id('a'), id('x'), 'x', 1_001_000),
    ];
    // Then, in time order: a request `d1` (its host's clock early) caused by a call `d0`,
    // made from `x` (joining `a`'s tree to the new spans), and `x`'s answer to `p` (joining
    // them all to the four requests' tree).
    const second = [
      event('request_received', id('d1'), id('d0'), 'd', 1_001_100),
      event('request_sent', id('d0'), id('x'), 'x', 1_001_150),
      event('response_sent', id('x'), id('p'), 'x', 1_002_000),
    ];
    const state = new IncrementalTraceAnalysis();
    state.append(first);
    state.result();
    state.append(second);
    const expected = full([...first, ...second], {});
    expect(expected.diagnostics.summary.spans).toBe(8);
    expect(state.result()).toEqual(expected);
  });

  it('leaves an analysis past the event budget as it is when later events arrive', () => {
    const events = [...checkoutFanOut().events].sort(byTimeThenId);
    const options = { budget: { maxEvents: 12 } };
    const state = new IncrementalTraceAnalysis(options);
    for (let i = 0; i < events.length; i += 3) {
      state.append(events.slice(i, i + 3));
      expect(state.result()).toEqual(full(events.slice(0, i + 3), options));
    }
    expect(state.mode).toEqual({ incremental: true });
    // An event before the cut changes which events the analysis covers: analysed in full.
    const early = { ...events[0]!, id: 'e'.repeat(32), ts_us: events[0]!.ts_us - 1 };
    state.append([early]);
    expect(state.mode).toMatchObject({ incremental: false });
    expect(state.result()).toEqual(full([...events, early], options));
  });

  it('analyses in full what it cannot fold in (SQL, inferred clocks), with the same result', () => {
    const events = checkoutFanOut().events;
    const query: Event = {
      ...events[3]!,
      id: 'f'.repeat(32),
      kind: 'db_query',
      data: {
        system: 'postgresql',
        statement: 'SELECT stock FROM products WHERE id = $1',
        params: ['1'],
      },
    };
    const state = new IncrementalTraceAnalysis();
    state.append(events);
    state.append([query]);
    expect(state.mode).toEqual({ incremental: false, reason: 'SQL transactions span resources' });
    expect(state.result()).toEqual(full([...events, query], {}));
  });
});
