import { compareIds } from './accesses.js';
import type { Span } from './spans.js';

/**
 * NTP's estimate from the four timestamps of one call: the client sends at t1 and receives
 * the answer at t4 (its clock), the server receives at t2 and answers at t3 (its clock).
 * `offsetUs` is how far the server's clock is ahead of the client's, assuming the network
 * takes as long each way; `delayUs` is the round trip spent outside the server.
 *
 * @example
 * ntpEstimate(0, 1050, 1250, 300); // { offsetUs: 1000, delayUs: 100 }
 */
export function ntpEstimate(
  t1: number,
  t2: number,
  t3: number,
  t4: number,
): { offsetUs: number; delayUs: number } {
  return { offsetUs: (t2 - t1 + (t3 - t4)) / 2, delayUs: t4 - t1 - (t3 - t2) };
}

/**
 * How much to shift a span's timestamps so that it fits its parent's window (CRISP's refinement
 * of Jaeger's clock-skew adjuster), for a span on another instance than its parent. The
 * caller's timestamps are the authority: a span that already fits stays; one that does not is
 * moved to the middle of the parent's window (network time split evenly both ways, which is
 * NTP's offset), or, when it is longer than the window, aligned to its start (and clipped
 * later). `parentStartUs`/`parentEndUs` are the parent's window after its own shift.
 *
 * @example
 * shiftIntoWindow({ startUs: 500, endUs: 900 }, 1000, 1600); // 700: the span moves to 1200..1600 - 100
 */
export function shiftIntoWindow(
  span: Pick<Span, 'startUs' | 'endUs'>,
  parentStartUs: number,
  parentEndUs: number,
): number {
  if (span.startUs >= parentStartUs && span.endUs <= parentEndUs) return 0;
  const duration = span.endUs - span.startUs;
  const window = parentEndUs - parentStartUs;
  if (duration <= window) return parentStartUs + (window - duration) / 2 - span.startUs;
  return parentStartUs - span.startUs;
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

/**
 * Clock skew per caller/callee instance pair: for every answered call between two instances,
 * the four timestamps give NTP's offset estimate, and the estimate of the call with the
 * smallest round trip is kept. A pair is reported when that offset exceeds the tolerance by more
 * than its own uncertainty (half the round trip), or when a call contradicts happens-before (the
 * callee received before the caller sent, or answered after the caller got the answer) by more
 * than the tolerance. `spans` come by start time then span id.
 */
export function clockSkew(spans: readonly Span[], toleranceUs: number): ClockSkew[] {
  return reportSkew(skewPairs(spans, toleranceUs), toleranceUs);
}

/**
 * Where a call was sampled in the walk {@link clockSkew} makes (calls by start time and span
 * id, then their server spans likewise): ties between samples go to the first, so partial
 * results merge into what one walk gives.
 */
type SamplePosition = readonly [number, string, number, string];

/** The samples of one caller/callee instance pair, mergeable with {@link mergeSkewPairs}. */
export interface SkewPair {
  key: string;
  caller: Span;
  callee: Span;
  first: SamplePosition;
  best: { offsetUs: number; delayUs: number };
  bestAt: SamplePosition;
  samples: number;
  violations: number;
  maxViolationUs: number;
}

/** The samples per instance pair of `spans` (by start time then span id), first seen first. */
export function skewPairs(spans: readonly Span[], toleranceUs: number): SkewPair[] {
  const pairs = new Map<string, SkewPair>();
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
        const at = [client.startUs, client.spanId, server.startUs, server.spanId] as const;
        pairs.set(key, {
          key,
          caller: client,
          callee: server,
          first: at,
          best: estimate,
          bestAt: at,
          samples: 1,
          violations: violation,
          maxViolationUs: violationUs,
        });
        continue;
      }
      acc.samples++;
      acc.violations += violation;
      acc.maxViolationUs = Math.max(acc.maxViolationUs, violationUs);
      if (estimate.delayUs < acc.best.delayUs) {
        acc.best = estimate;
        acc.bestAt = [client.startUs, client.spanId, server.startUs, server.spanId];
      }
    }
  }
  return [...pairs.values()];
}

function comparePositions(a: SamplePosition, b: SamplePosition): number {
  return a[0] - b[0] || compareIds(a[1], b[1]) || a[2] - b[2] || compareIds(a[3], b[3]);
}

/**
 * The pairs of several disjoint sets of spans, merged into what {@link skewPairs} gives for
 * their union: samples and violations summed, the first sample's spans, the estimate of the
 * smallest round trip (the first on a tie), in order of first sample.
 */
export function mergeSkewPairs(lists: Iterable<readonly SkewPair[]>): SkewPair[] {
  const merged = new Map<string, SkewPair>();
  for (const list of lists) {
    for (const pair of list) {
      const known = merged.get(pair.key);
      if (known === undefined) {
        merged.set(pair.key, { ...pair });
        continue;
      }
      if (comparePositions(pair.first, known.first) < 0) {
        known.caller = pair.caller;
        known.callee = pair.callee;
        known.first = pair.first;
      }
      if (
        pair.best.delayUs < known.best.delayUs ||
        (pair.best.delayUs === known.best.delayUs &&
          comparePositions(pair.bestAt, known.bestAt) < 0)
      ) {
        known.best = pair.best;
        known.bestAt = pair.bestAt;
      }
      known.samples += pair.samples;
      known.violations += pair.violations;
      known.maxViolationUs = Math.max(known.maxViolationUs, pair.maxViolationUs);
    }
  }
  return [...merged.values()].sort((a, b) => comparePositions(a.first, b.first));
}

/** The pairs worth reporting (see {@link clockSkew}), the largest offset first. */
export function reportSkew(pairs: readonly SkewPair[], toleranceUs: number): ClockSkew[] {
  const out: ClockSkew[] = [];
  for (const acc of pairs) {
    // NTP's offset is only known to within half the round trip: the true offset lies in
    // offset +- delay/2. An estimate inside that band is what two processes on one clock give
    // when one of them is slow to read a request or to see its response go out (a busy event
    // loop), not evidence of skew. Outside it, the timestamps contradict happens-before.
    const significantUs = Math.abs(acc.best.offsetUs) - acc.best.delayUs / 2;
    if (significantUs <= toleranceUs && acc.violations === 0) continue;
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

export function skewEntry(entry: Omit<ClockSkew, 'explanation'>): ClockSkew {
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
