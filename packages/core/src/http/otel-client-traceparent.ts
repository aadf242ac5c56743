import type { ExecutionContext } from '../context/execution-context.js';
import { activeOtelSpanContext } from '../context/otel-span.js';
import { parseTraceparent, type Traceparent } from '../propagation/traceparent.js';

/**
 * The `traceparent` on a request when it names OpenTelemetry's client span of the same trace
 * (spec 2.8): OpenTelemetry runs in this process with a span active, the header is of
 * Raceway's trace, and it names no span Raceway knows (a header copied from the incoming
 * request, or Raceway's own server span) nor the active span, unless that one is a client span:
 * OpenTelemetry's http instrumentation holds its client span active while node creates the
 * request, where its undici instrumentation leaves the server span active. Otherwise undefined,
 * and Raceway's own header replaces whatever is there.
 *
 * @example
 * const shared = otelClientTraceparent(request.getHeader('traceparent'), context);
 * if (shared !== undefined) spanId = shared.parentId; // OpenTelemetry's client span
 */
export function otelClientTraceparent(
  traceparent: string | undefined,
  context: ExecutionContext,
): Traceparent | undefined {
  if (traceparent === undefined) return undefined;
  const otel = activeOtelSpanContext();
  if (otel === undefined || otel.traceId !== context.traceId) return undefined;
  const parsed = parseTraceparent(traceparent.trim());
  if (parsed === null || parsed.traceId !== context.traceId) return undefined;
  const known = [context.spanId, context.parentSpanId];
  if (!otel.client) known.push(otel.spanId);
  return known.includes(parsed.parentId) ? undefined : parsed;
}
