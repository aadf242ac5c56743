import { isStructuralEvent } from './inferred-order.js';
import type { Span } from './spans.js';

/**
 * - `callee_missing`: a client call no server span answers (an uninstrumented callee, or,
 *   when its response carried a Raceway clock, an instrumented callee whose events were lost);
 * - `parent_unknown`: a server span whose parent span is not in the trace (an uninstrumented
 *   or OpenTelemetry-only caller, or lost events);
 * - `context_rejected`: the service could not join the caller's trace and started this one;
 * - `context_degraded`: it joined with problems (an invalid clock, `trace_id_mismatch`: the
 *   request also named another trace in `traceparent`, ...);
 * - `clock_missing`: it joined the trace from a request that carried the trace id but no clock
 *   (`X-Raceway-VC`): manual propagation that copied the trace id alone;
 * - `response_not_merged`: an instrumented callee answered a call with its clock, and the caller
 *   never merged it (manual propagation without `mergeResponseHeaders`).
 */
export type BrokenChainKind =
  | 'callee_missing'
  | 'parent_unknown'
  | 'context_rejected'
  | 'context_degraded'
  | 'clock_missing'
  | 'response_not_merged';

// The manual propagation calls of each SDK, named in the fixes.
const SEND_EVERY_HEADER =
  'set every header the SDK returns for the call (getTraceHeaders() in Node, get_trace_headers() in Python, GetTraceHeaders in Go, get_trace_headers_for in Rust), not the trace id alone, or use an instrumented client';
const MERGE_THE_RESPONSE =
  "pass the response's headers to mergeResponseHeaders (merge_response_headers in Python, MergeResponseHeaders in Go, end_manual_call in Rust) after a manual call, or use an instrumented client; a proxy that drops X-Raceway-VC from responses does the same";

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
    const unmerged = span.kind === 'client' ? responseNotMerged(span) : null;
    if (unmerged !== null) out.push({ kind: 'response_not_merged', ...base(span), ...unmerged });
    if (span.kind !== 'server') continue;
    if (joinedWithoutClock(span)) {
      const secondRoot = span.parentSpanId === null;
      out.push({
        kind: 'clock_missing',
        ...base(span),
        explanation: `${span.service} (${span.name}) joined this trace from X-Raceway-Trace-Id without X-Raceway-VC${secondRoot ? ' or traceparent, so it shows as a second root' : ''}: nothing orders what its caller did before the call with what ${span.service} did, and races between them are reported that did not happen. In the caller, ${SEND_EVERY_HEADER}`,
      });
    }
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

/**
 * A server span that joined a trace (its request named one) while its clock holds no entry of
 * any caller: the request carried no usable `X-Raceway-VC`. A caller that sent only
 * `traceparent` and is not in the trace (OpenTelemetry alone) is `parent_unknown`'s finding,
 * and a context taken with problems (a damaged clock among them) is `context_degraded`'s.
 */
function joinedWithoutClock(span: Span): boolean {
  const start = span.startEvent;
  const incoming = span.incoming;
  if (start === undefined || start.kind !== 'request_received' || incoming === undefined) {
    return false;
  }
  if (incoming.status !== 'accepted') return false;
  if (span.parentSpanId !== null && span.parent === null) return false;
  // Called by an OpenTelemetry span: no Raceway clock was ever to come.
  if (span.parent !== null && isStructuralEvent(span.parent.firstEvent)) return false;
  if (
    isStructuralEvent(start) ||
    start.clock_inferred === true ||
    start.clock_dropped !== undefined
  ) {
    return false;
  }
  for (const component of Object.keys(start.clock)) {
    if (component !== start.component) return false;
  }
  return true;
}

/**
 * A client call answered by an instrumented service (a server span of the trace joined it and
 * answered, so its response carried `X-Raceway-VC`) whose caller never merged that clock: the
 * call ended with `remote_clock: false`, or never ended although the caller's own span did.
 */
function responseNotMerged(span: Span): { explanation: string } | null {
  // An OpenTelemetry callee sends no clock back: nothing to merge.
  const answeredBy = span.children.find(
    (child) =>
      child.kind === 'server' &&
      child.endEvent?.kind === 'response_sent' &&
      !isStructuralEvent(child.endEvent),
  );
  if (answeredBy === undefined) return null;
  const end = span.endEvent;
  const callee = answeredBy.service;
  if (end !== undefined) {
    // SDKs that do not say (older ones, OpenTelemetry) leave the field out: no finding.
    if (end.data.remote_clock !== false) return null;
    return {
      explanation: `${span.service} called ${callee} (${span.name}) and ${callee} answered with its clock, but ${span.service} did not merge it: what ${callee} did looks concurrent with what ${span.service} did after the call. Fix: ${MERGE_THE_RESPONSE}`,
    };
  }
  if (span.parent === null || !span.parent.complete) return null;
  return {
    explanation: `${span.service} called ${callee} (${span.name}) and the call was never ended: ${span.service} did not hand the response to the SDK, so ${callee}'s clock was not merged and what ${callee} did looks concurrent with what ${span.service} did after the call. Fix: ${MERGE_THE_RESPONSE}`,
  };
}
