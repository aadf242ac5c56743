// OpenTelemetry in the same process (spec 2.8): Raceway reads OpenTelemetry's active span to
// continue its trace and to share its client spans, without depending on @opentelemetry/api.
// The API keeps its registered globals on globalThis under a key that names its major version
// (api/src/internal/global-utils.ts), and a context's span under a key made with Symbol.for
// (api/src/trace/context-utils.ts), both so that several copies of the API agree: Raceway
// reads them the same way.

const OTEL_API_KEY = Symbol.for('opentelemetry.js.api.1');
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
const SPAN_ID = /^(?!0{16})[0-9a-f]{16}$/;

/** The span context of OpenTelemetry's active span, as W3C trace context writes it. */
export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  /** Two hex digits (`01` sampled). */
  traceFlags: string;
  /**
   * True when the span is a client span. The API does not expose a span's kind, but the SDK's
   * spans do (`ReadableSpan.kind`); false when it cannot be read.
   */
  client: boolean;
}

// `SpanKind.CLIENT` of @opentelemetry/api.
const CLIENT_KIND = 2;

type OtelGlobal = {
  context?: { active?: () => { getValue?: (key: symbol) => unknown } | undefined };
};

/**
 * The span OpenTelemetry holds active in the current async context, when the OpenTelemetry
 * API is registered in this process with a context manager and a valid span is active;
 * otherwise undefined. Never throws.
 *
 * @example
 * const otel = activeOtelSpanContext(); // { traceId: '4bf9…', spanId: '00f0…', traceFlags: '01', client: false }
 */
export function activeOtelSpanContext(): OtelSpanContext | undefined {
  try {
    const api = (globalThis as { [OTEL_API_KEY]?: OtelGlobal })[OTEL_API_KEY];
    const span = api?.context?.active?.()?.getValue?.(SPAN_KEY) as
      | {
          spanContext?: () => { traceId?: unknown; spanId?: unknown; traceFlags?: unknown };
          kind?: unknown;
        }
      | undefined;
    const spanContext = span?.spanContext?.();
    if (spanContext === undefined) return undefined;
    const { traceId, spanId, traceFlags } = spanContext;
    if (typeof traceId !== 'string' || !TRACE_ID.test(traceId)) return undefined;
    if (typeof spanId !== 'string' || !SPAN_ID.test(spanId)) return undefined;
    const flags = typeof traceFlags === 'number' ? traceFlags & 0xff : 0;
    return {
      traceId,
      spanId,
      traceFlags: flags.toString(16).padStart(2, '0'),
      client: span?.kind === CLIENT_KIND,
    };
  } catch {
    return undefined;
  }
}
