import { encodeClock } from '../clock/codec.js';
import type { VectorClock } from '../clock/vector-clock.js';
import { isValidSpanId, isValidTraceId } from '../ids.js';
import {
  HEADER_TRACE_ID,
  HEADER_TRACEPARENT,
  HEADER_TRACESTATE,
  HEADER_VC,
  type HeaderSetter,
} from './carrier.js';
import { isSampledFlags, propagatedFlags } from './trace-flags.js';
import { formatTraceparent } from './traceparent.js';

/** What an outgoing call carries (spec 2.5). */
export interface OutgoingContext {
  traceId: string;
  /** The client call's span id: sent as the parent id in `traceparent`. */
  spanId: string;
  /** The context's trace flags (`00`..`03`); without the sampled bit no clock is sent (spec 5). */
  traceFlags: string;
  /** The context's clock, already incremented for this call; not read when unsampled. */
  clock: VectorClock;
  /** The context's own component, kept if the clock has to be cut (spec 3.4). */
  own?: string;
  /** Entries the context's clock already lacks (it was received truncated), 0 when none. */
  clockDropped?: number;
  /** The `tracestate` to pass on, if any. */
  tracestate?: string | null;
}

/**
 * Writes `X-Raceway-Trace-Id`, `X-Raceway-VC` (sampled contexts only), `traceparent` and, when
 * there is one, `tracestate` through a setter that replaces existing values (spec 2.5). The
 * caller increments the clock first (the `request_sent` event). Never throws: a context
 * without a valid trace id, span id and trace flags writes nothing, and a failing setter is
 * ignored.
 *
 * @example
 * const headers: Record<string, string> = {};
 * injectContext({ traceId, spanId: newSpanId(), traceFlags: '03', clock, own: component }, headersIntoRecord(headers));
 * // headers: { 'X-Raceway-Trace-Id': …, 'X-Raceway-VC': '{"api#1f3a9c07":3}', traceparent: '00-…-03' }
 */
export function injectContext(ctx: OutgoingContext, set: HeaderSetter): void {
  let values: Array<[string, string]>;
  try {
    if (!isValidTraceId(ctx.traceId) || !isValidSpanId(ctx.spanId)) return;
    // Only the two flags Raceway knows go out, and only from a context that holds them already.
    if (propagatedFlags(ctx.traceFlags) !== ctx.traceFlags) return;
    values = [[HEADER_TRACE_ID, ctx.traceId]];
    if (isSampledFlags(ctx.traceFlags)) {
      values.push([HEADER_VC, encodeClock(ctx.clock, { own: ctx.own, dropped: ctx.clockDropped })]);
    }
    values.push([HEADER_TRACEPARENT, formatTraceparent(ctx.traceId, ctx.spanId, ctx.traceFlags)]);
    if (typeof ctx.tracestate === 'string' && ctx.tracestate !== '') {
      values.push([HEADER_TRACESTATE, ctx.tracestate]);
    }
  } catch {
    // Not a VectorClock, or a context object that throws on access: send nothing rather than
    // half a context.
    return;
  }
  for (const [name, value] of values) {
    try {
      set(name, value);
    } catch {
      // The carrier refused (headers already sent, a frozen object): the call goes on without.
    }
  }
}
