import type { Span } from './spans.js';

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
  /**
   * `callee_missing`: the caller's SDK sent no trace headers, the host being outside its
   * propagation allow-list (`propagateTo`, `RACEWAY_PROPAGATE_TO`).
   */
  headersWithheld?: boolean;
  /** `context_*`: the rejection reasons recorded (spec 2.4). */
  reasons?: string[];
  /** How many times this was seen (1 per trace; summed by `mergeDiagnostics`). */
  count: number;
  explanation: string;
}

/** Where the chain of calls of a trace breaks (see {@link BrokenChainKind}). */
export function brokenChains(spans: readonly Span[], traceId: string): BrokenChain[] {
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
      const withheld = span.headersWithheld === true;
      out.push({
        kind: 'callee_missing',
        ...base(span),
        host: span.host ?? '',
        calleeInstrumented: instrumented,
        ...(withheld ? { headersWithheld: true } : {}),
        explanation: withheld
          ? `${span.service} called ${span.host} (${span.name}) without trace headers: the host is outside ${span.service}'s propagation allow-list, so the callee could not join this trace. Add ${span.host} to propagateTo (or RACEWAY_PROPAGATE_TO) in ${span.service}`
          : instrumented
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
