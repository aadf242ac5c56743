import { compareIds } from './accesses.js';
import { ntpEstimate } from './clock-skew.js';
import { getOrCreate } from './collections.js';
import type { Event, EventError } from './event.js';
import { type AnalysisOptions, toleranceUs } from './options.js';
import type { Span, SpanKind, SpanTree } from './spans.js';

/**
 * - `callee_missing`: a client call no server span answers (an uninstrumented callee, or,
 *   when its response carried a Raceway clock, an instrumented callee whose events were lost);
 * - `parent_unknown`: a server span whose parent span is not in the trace (an uninstrumented
 *   or OpenTelemetry-only caller, or lost events);
 * - `context_rejected`: the service could not join the caller's trace and started this one;
 * - `context_degraded`: it joined with problems (an invalid clock, `trace_id_mismatch`: the
 *   request also named another trace in `traceparent`, ...).
 */
export type BrokenChainKind =
  | 'callee_missing'
  | 'parent_unknown'
  | 'context_rejected'
  | 'context_degraded';

/** A place where the trace's chain of calls breaks. */
export interface BrokenChain {
  kind: BrokenChainKind;
  service: string;
  spanId: string;
  eventId: string;
  traceId: string;
  /** `callee_missing`: the host called. */
  host?: string;
  /** `callee_missing`: the response carried a Raceway clock, so the callee is instrumented. */
  calleeInstrumented?: boolean;
  /** `context_*`: the rejection reasons recorded (spec 2.4). */
  reasons?: string[];
  /** How many times this was seen (1 per trace; summed by `mergeDiagnostics`). */
  count: number;
  explanation: string;
}

/** Clock skew between a caller's and a callee's instance, estimated as NTP does. */
export interface ClockSkew {
  callerService: string;
  callerInstance: string;
  calleeService: string;
  calleeInstance: string;
  /** How far the callee's clock is ahead of the caller's, in ms (negative: behind). */
  offsetMs: number;
  /** Round trip outside the callee of the call the estimate comes from (the smallest). */
  roundTripMs: number;
  /** Calls with all four timestamps. */
  samples: number;
  /** Calls whose timestamps contradict happens-before by more than the tolerance. */
  violations: number;
  /** The largest contradiction, in ms. */
  maxViolationMs: number;
  explanation: string;
}

/** Where an error started and which services it travelled up through. */
export interface ErrorPropagation {
  origin: {
    service: string;
    spanId: string;
    kind: SpanKind;
    status?: number;
    error?: EventError;
    /** The error came from a host that reported no span. */
    uninstrumented?: true;
  };
  /** Services from the origin up, each once in a row (the origin first). */
  path: string[];
  /** The first caller that answered without failing, if any. */
  handledBy: string | null;
  /** The root span failed with it. */
  reachedRoot: boolean;
  traceId: string;
  count: number;
  explanation: string;
}

/** Time one service spent in a trace. */
export interface ServiceTime {
  service: string;
  spans: number;
  /** Sum of its server spans' durations, in ms. */
  totalMs: number;
  /** The part of them not spent waiting for its own calls, in ms. */
  selfMs: number;
  /** Its longest server span, in ms. */
  maxMs: number;
}

/** Counts and rankings that are not findings. */
export interface DiagnosticsSummary {
  traces: number;
  events: number;
  spans: number;
  services: string[];
  /** Events whose clock was truncated (`clock_dropped`). */
  truncatedClockEvents: number;
  /** By self time, slowest first. */
  slowestServices: ServiceTime[];
}

/**
 * What is wrong with a trace, beyond races. Every top-level array is a list of findings; a
 * healthy trace has them all empty. Mergeable across traces with {@link mergeDiagnostics}.
 */
export interface TraceDiagnostics {
  brokenChains: BrokenChain[];
  clockSkew: ClockSkew[];
  errors: ErrorPropagation[];
  summary: DiagnosticsSummary;
}

/**
 * The diagnostics of one trace (DESIGN 4): broken chains, clock skew, error propagation and
 * the slowest services.
 *
 * Clock skew: for every answered call between two instances, the four timestamps give NTP's
 * offset estimate; per instance pair, the estimate of the call with the smallest round trip
 * is kept. A pair is reported when that offset, or a contradiction of happens-before (the
 * callee received before the caller sent, or answered after the caller got the answer),
 * exceeds the tolerance.
 *
 * @example
 * const diagnostics = traceDiagnostics(events, buildSpanTree(events));
 * diagnostics.brokenChains[0]?.explanation;
 * // 'order called payments:8080 (POST http://payments:8080/charge) but no service reported handling it ...'
 */
export function traceDiagnostics(
  events: readonly Event[],
  tree: SpanTree,
  options: AnalysisOptions = {},
): TraceDiagnostics {
  const tolerance = toleranceUs(options);
  const traceId = events[0]?.trace_id ?? '';
  const spans = [...tree.spans.values()].sort(
    (a, b) => a.startUs - b.startUs || compareIds(a.spanId, b.spanId),
  );
  return {
    brokenChains: brokenChains(spans, traceId),
    clockSkew: clockSkew(spans, tolerance),
    errors: errorPropagation(tree, spans, traceId),
    summary: {
      traces: 1,
      events: events.length,
      spans: spans.length,
      services: [...new Set(events.map((e) => e.service))].sort(),
      truncatedClockEvents: events.filter((e) => e.clock_dropped !== undefined).length,
      slowestServices: serviceTimes(spans),
    },
  };
}

function brokenChains(spans: readonly Span[], traceId: string): BrokenChain[] {
  const out: BrokenChain[] = [];
  const base = (span: Span) => ({
    service: span.service,
    spanId: span.spanId,
    eventId: span.firstEvent.id,
    traceId,
    count: 1,
  });
  for (const span of spans) {
    if (span.kind === 'client' && !span.children.some((c) => c.kind === 'server')) {
      const instrumented = span.remoteClock === true;
      out.push({
        kind: 'callee_missing',
        ...base(span),
        host: span.host ?? '',
        calleeInstrumented: instrumented,
        explanation: instrumented
          ? `${span.service} called ${span.host} (${span.name}) and the answer carried a Raceway clock, but the callee's events never arrived`
          : `${span.service} called ${span.host} (${span.name}) but no service reported handling it: the callee is not instrumented, or the trace headers did not reach it`,
      });
    }
    if (span.kind !== 'server') continue;
    if (span.parentSpanId !== null && span.parent === null) {
      out.push({
        kind: 'parent_unknown',
        ...base(span),
        explanation: `${span.service} (${span.name}) was called from span ${span.parentSpanId}, which no service of this trace reported: an uninstrumented caller, or lost events`,
      });
    }
    const incoming = span.incoming;
    if (incoming && (incoming.status === 'rejected' || incoming.status === 'degraded')) {
      const reasons = incoming.reasons.join(', ') || 'no reason recorded';
      out.push({
        kind: incoming.status === 'rejected' ? 'context_rejected' : 'context_degraded',
        ...base(span),
        reasons: [...incoming.reasons],
        explanation:
          incoming.status === 'rejected'
            ? `${span.service} (${span.name}) could not join its caller's trace (${reasons}) and started this one: the caller's trace breaks there`
            : `${span.service} (${span.name}) joined this trace with problems in the incoming context (${reasons})${incoming.reasons.includes('trace_id_mismatch') ? '; traceparent named another trace, so the request belongs to two traces' : ''}`,
      });
    }
  }
  return out;
}

function clockSkew(spans: readonly Span[], toleranceUs: number): ClockSkew[] {
  interface Acc {
    caller: Span;
    callee: Span;
    best: { offsetUs: number; delayUs: number };
    samples: number;
    violations: number;
    maxViolationUs: number;
  }
  const pairs = new Map<string, Acc>();
  for (const client of spans) {
    if (client.kind !== 'client' || !client.complete) continue;
    for (const server of client.children) {
      if (server.kind !== 'server' || !server.complete || server.instance === client.instance)
        continue;
      const t1 = client.startUs;
      const t2 = server.startUs;
      const t3 = server.endUs;
      const t4 = client.endUs;
      const estimate = ntpEstimate(t1, t2, t3, t4);
      const violationUs = Math.max(t1 - t2, t3 - t4, 0);
      const key = `${client.instance}\u0000${server.instance}`;
      const acc = pairs.get(key);
      const violation = violationUs > toleranceUs ? 1 : 0;
      if (acc === undefined) {
        pairs.set(key, {
          caller: client,
          callee: server,
          best: estimate,
          samples: 1,
          violations: violation,
          maxViolationUs: violationUs,
        });
        continue;
      }
      acc.samples++;
      acc.violations += violation;
      acc.maxViolationUs = Math.max(acc.maxViolationUs, violationUs);
      if (estimate.delayUs < acc.best.delayUs) acc.best = estimate;
    }
  }
  const out: ClockSkew[] = [];
  for (const acc of pairs.values()) {
    if (Math.abs(acc.best.offsetUs) <= toleranceUs && acc.violations === 0) continue;
    out.push(
      skewEntry({
        callerService: acc.caller.service,
        callerInstance: acc.caller.instance,
        calleeService: acc.callee.service,
        calleeInstance: acc.callee.instance,
        offsetMs: Math.round(acc.best.offsetUs) / 1000,
        roundTripMs: Math.round(acc.best.delayUs) / 1000,
        samples: acc.samples,
        violations: acc.violations,
        maxViolationMs: Math.round(acc.maxViolationUs) / 1000,
      }),
    );
  }
  return out.sort(
    (a, b) =>
      Math.abs(b.offsetMs) - Math.abs(a.offsetMs) || compareIds(a.calleeInstance, b.calleeInstance),
  );
}

function skewEntry(entry: Omit<ClockSkew, 'explanation'>): ClockSkew {
  const direction = entry.offsetMs >= 0 ? 'ahead of' : 'behind';
  const calls = entry.samples === 1 ? '1 call' : `${entry.samples} calls`;
  const contradiction =
    entry.violations > 0
      ? `; ${entry.violations} of them contradict happens-before by up to ${entry.maxViolationMs} ms (received before sent, or answered after the answer arrived)`
      : '';
  return {
    ...entry,
    explanation: `${entry.calleeInstance} (${entry.calleeService}) runs about ${Math.abs(entry.offsetMs)} ms ${direction} ${entry.callerInstance} (${entry.callerService}), estimated from ${calls}${contradiction}`,
  };
}

function errorPropagation(
  tree: SpanTree,
  spans: readonly Span[],
  traceId: string,
): ErrorPropagation[] {
  // A failing span with no failing descendant is where an error started.
  const failingBelow = new Set<Span>();
  for (const span of topDown(tree).reverse()) {
    if (span.parent && (span.failed || failingBelow.has(span))) failingBelow.add(span.parent);
  }
  const out: ErrorPropagation[] = [];
  for (const span of spans) {
    if (!span.failed || failingBelow.has(span)) continue;
    const unanswered = span.kind === 'client' && span.children.length === 0;
    const originService = unanswered ? (span.host ?? span.service) : span.service;
    const path = [originService];
    let handledBy: string | null = null;
    let top: Span = span;
    for (let at = span.parent; at !== null; at = at.parent) {
      if (!at.failed) {
        handledBy = at.service;
        break;
      }
      top = at;
      if (path[path.length - 1] !== at.service) path.push(at.service);
    }
    const origin: ErrorPropagation['origin'] = {
      service: originService,
      spanId: span.spanId,
      kind: span.kind,
    };
    if (span.status !== undefined) origin.status = span.status;
    if (span.error) origin.error = span.error;
    if (unanswered) origin.uninstrumented = true;
    const reachedRoot = handledBy === null && top === tree.root;
    const what = span.error
      ? `${span.error.type}: ${span.error.message}`
      : span.status !== undefined
        ? `status ${span.status}`
        : 'a failure';
    const through =
      path.length > 1 ? ` and travelled up through ${path.slice(1).join(' -> ')}` : '';
    const end =
      handledBy !== null
        ? `; ${handledBy} handled it`
        : reachedRoot
          ? '; the request failed with it'
          : '';
    out.push({
      origin,
      path,
      handledBy,
      reachedRoot,
      traceId,
      count: 1,
      explanation: `the error started in ${originService}${unanswered ? ' (uninstrumented)' : ''} (${what})${through}${end}`,
    });
  }
  return out;
}

/** Every span of the tree, each after its parent. */
function topDown(tree: SpanTree): Span[] {
  const out: Span[] = [...tree.roots];
  for (let i = 0; i < out.length; i++) for (const child of out[i]!.children) out.push(child);
  return out;
}

function serviceTimes(spans: readonly Span[]): ServiceTime[] {
  const per = new Map<string, ServiceTime>();
  for (const span of spans) {
    if (span.kind !== 'server') continue;
    const total = span.endUs - span.startUs;
    const self = total - coveredUs(span);
    const entry = getOrCreate(per, span.service, () => ({
      service: span.service,
      spans: 0,
      totalMs: 0,
      selfMs: 0,
      maxMs: 0,
    }));
    entry.spans++;
    entry.totalMs += total / 1000;
    entry.selfMs += self / 1000;
    entry.maxMs = Math.max(entry.maxMs, total / 1000);
  }
  return sortServiceTimes([...per.values()]);
}

function sortServiceTimes(list: ServiceTime[]): ServiceTime[] {
  for (const entry of list) {
    entry.totalMs = Math.round(entry.totalMs * 1000) / 1000;
    entry.selfMs = Math.round(entry.selfMs * 1000) / 1000;
    entry.maxMs = Math.round(entry.maxMs * 1000) / 1000;
  }
  return list.sort(
    (a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs || compareIds(a.service, b.service),
  );
}

/** How much of a span its children cover (their union, clipped to the span). */
function coveredUs(span: Span): number {
  const intervals = span.children
    .map((c) => [Math.max(c.startUs, span.startUs), Math.min(c.endUs, span.endUs)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [s, e] of intervals) {
    if (e <= end) continue;
    covered += e - Math.max(s, end);
    end = e;
  }
  return covered;
}

/**
 * Merges the diagnostics of many traces into one overall view: equal findings are counted
 * once (with `count` summed, the first occurrence kept as the example), skew per instance pair
 * keeps the estimate with the smallest round trip, and service times are summed.
 *
 * @example
 * const overall = mergeDiagnostics(analyses.map((a) => a.diagnostics));
 * overall.brokenChains; // [{ kind: 'callee_missing', host: 'payments:8080', count: 12, ... }]
 */
export function mergeDiagnostics(list: readonly TraceDiagnostics[]): TraceDiagnostics {
  const broken = new Map<string, BrokenChain>();
  const errors = new Map<string, ErrorPropagation>();
  const skew = new Map<string, ClockSkew>();
  const times = new Map<string, ServiceTime>();
  const services = new Set<string>();
  const summary: DiagnosticsSummary = {
    traces: 0,
    events: 0,
    spans: 0,
    services: [],
    truncatedClockEvents: 0,
    slowestServices: [],
  };
  for (const d of list) {
    for (const b of d.brokenChains) {
      const key = [b.kind, b.service, b.host ?? '', (b.reasons ?? []).join(',')].join('\u0000');
      const known = broken.get(key);
      if (known) known.count += b.count;
      else broken.set(key, { ...b, ...(b.reasons ? { reasons: [...b.reasons] } : {}) });
    }
    for (const e of d.errors) {
      const key = [
        ...e.path,
        e.handledBy ?? '',
        e.origin.status ?? '',
        e.origin.error?.type ?? '',
      ].join('\u0000');
      const known = errors.get(key);
      if (known) known.count += e.count;
      else errors.set(key, { ...e, path: [...e.path], origin: { ...e.origin } });
    }
    for (const s of d.clockSkew) {
      const key = `${s.callerInstance}\u0000${s.calleeInstance}`;
      const known = skew.get(key);
      if (!known) {
        skew.set(key, { ...s });
        continue;
      }
      const best = s.roundTripMs < known.roundTripMs ? s : known;
      skew.set(
        key,
        skewEntry({
          callerService: known.callerService,
          callerInstance: known.callerInstance,
          calleeService: known.calleeService,
          calleeInstance: known.calleeInstance,
          offsetMs: best.offsetMs,
          roundTripMs: best.roundTripMs,
          samples: known.samples + s.samples,
          violations: known.violations + s.violations,
          maxViolationMs: Math.max(known.maxViolationMs, s.maxViolationMs),
        }),
      );
    }
    summary.traces += d.summary.traces;
    summary.events += d.summary.events;
    summary.spans += d.summary.spans;
    summary.truncatedClockEvents += d.summary.truncatedClockEvents;
    for (const s of d.summary.services) services.add(s);
    for (const t of d.summary.slowestServices) {
      const known = times.get(t.service);
      if (!known) times.set(t.service, { ...t });
      else {
        known.spans += t.spans;
        known.totalMs += t.totalMs;
        known.selfMs += t.selfMs;
        known.maxMs = Math.max(known.maxMs, t.maxMs);
      }
    }
  }
  summary.services = [...services].sort();
  summary.slowestServices = sortServiceTimes([...times.values()]);
  return {
    brokenChains: [...broken.values()].sort((a, b) => b.count - a.count),
    clockSkew: [...skew.values()].sort((a, b) => Math.abs(b.offsetMs) - Math.abs(a.offsetMs)),
    errors: [...errors.values()].sort((a, b) => b.count - a.count),
    summary,
  };
}
