import { decodeClock } from '../clock/codec.js';
import type { ExecutionContext } from '../context/execution-context.js';
import { normalizeTraceId } from '../ids.js';
import { type HeaderGetter, headerCopies, safeGet, singleHeader } from '../propagation/carrier.js';

/**
 * Merges the clock a response carries back (`X-Raceway-VC` of the same trace, spec 2.6) into
 * the context that made the call, the rule behind `mergeResponseHeaders`; true when a clock was
 * merged (client instrumentation records it as `remote_clock`). Never throws.
 */
export function mergeResponseClock(ctx: ExecutionContext, get: HeaderGetter): boolean {
  try {
    // An unsampled context keeps no clock (spec 5.4).
    if (!ctx.sampled) return false;
    // Node joins a repeated header with ", "; a trace id never contains a comma.
    const traceId = singleHeader(headerCopies(safeGet(get, 'x-raceway-trace-id'), true));
    if (traceId.kind !== 'value' || normalizeTraceId(traceId.value) !== ctx.traceId) return false;
    // A clock does contain commas: only separate copies count as copies.
    const vc = singleHeader(headerCopies(safeGet(get, 'x-raceway-vc'), false));
    if (vc.kind !== 'value') return false;
    const decoded = decodeClock(vc.value);
    if (!decoded.ok) return false;
    ctx.mergeClock(decoded.clock, decoded.dropped);
    return true;
  } catch {
    return false;
  }
}
