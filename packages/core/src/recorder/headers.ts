import { decodeClock } from '../clock/codec.js';
import type { ExecutionContext } from '../context/execution-context.js';
import { normalizeTraceId } from '../ids.js';
import { type HeaderGetter, headerCopies, safeGet, singleHeader } from '../propagation/carrier.js';
import { injectContext } from '../propagation/inject.js';
import { withActiveContext } from './active-context.js';

/**
 * Trace headers for an outgoing call made by a client Raceway does not instrument (manual
 * propagation): increments the current context's clock (the call is an event of the caller,
 * spec 2.5) and returns `X-Raceway-Trace-Id`, `X-Raceway-VC`, `traceparent` and, when there is
 * one, `tracestate`. Returns `{}` outside a context or when disabled. Never throws.
 *
 * Pass the response's headers to {@link mergeResponseHeaders} afterwards, or what the callee
 * did looks concurrent with what the caller does next.
 *
 * @example
 * const response = await got('http://inventory/items/42', { headers: getTraceHeaders() });
 * mergeResponseHeaders((name) => response.headers[name]);
 */
export function getTraceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  withActiveContext((ctx) => {
    ctx.clock.increment(ctx.component);
    injectContext(
      {
        traceId: ctx.traceId,
        spanId: ctx.spanId,
        clock: ctx.clock,
        own: ctx.component,
        clockDropped: ctx.clockDropped,
        tracestate: ctx.tracestate,
      },
      (name, value) => {
        headers[name] = value;
      },
    );
  });
  return headers;
}

/**
 * Merges the clock a callee sent back on its response (`X-Raceway-VC`, spec 2.6) into the
 * current context, when the response belongs to the same trace (`X-Raceway-Trace-Id`). An
 * absent, foreign or invalid clock is ignored. No-op outside a context; never throws.
 *
 * @example
 * const response = await fetch(url, { headers: getTraceHeaders() });
 * mergeResponseHeaders((name) => response.headers.get(name) ?? undefined);
 */
export function mergeResponseHeaders(get: HeaderGetter): void {
  withActiveContext((ctx) => {
    mergeResponseClock(ctx, get);
  });
}

/**
 * The rule behind {@link mergeResponseHeaders} for a given context; true when a clock was
 * merged (client instrumentation records it as `remote_clock`). Never throws.
 */
export function mergeResponseClock(ctx: ExecutionContext, get: HeaderGetter): boolean {
  try {
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
