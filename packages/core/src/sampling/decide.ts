import { decidedFlags, propagatedFlags, type TraceFlags } from '../propagation/trace-flags.js';
import type { RootSampler } from './root-sampler.js';

/**
 * The trace flags of a new execution context (spec 5.2), parent-based: flags received in a
 * `traceparent` of the joined trace are kept as they are (an upstream decision is never
 * overridden); otherwise the root decision is taken from the trace id. A trace started here has
 * an id Raceway drew at random, so it also carries the random flag; a trace joined through
 * `X-Raceway-Trace-Id` alone does not (nothing says how its id was made).
 *
 * @example
 * decideTraceFlags('00', joinedId, true, rootSampler(1)); // '00': upstream said no
 * decideTraceFlags(null, newTraceId(), false, rootSampler(1)); // '03'
 */
export function decideTraceFlags(
  incoming: string | null | undefined,
  traceId: string,
  joined: boolean,
  sample: RootSampler,
): TraceFlags {
  if (joined && typeof incoming === 'string') {
    const flags = propagatedFlags(incoming);
    if (flags !== null) return flags;
  }
  return decidedFlags(sample(traceId), !joined);
}
