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
