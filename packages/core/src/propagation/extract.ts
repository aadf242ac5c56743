import { decodeClock } from '../clock/codec.js';
import type { VectorClock } from '../clock/vector-clock.js';
import { type HeaderGetter, headerCopies, safeGet, singleHeader } from './carrier.js';
import { propagatedFlags, type TraceFlags } from './trace-flags.js';
import { readTraceIdHeader } from './trace-id.js';
import { readTraceparentHeader } from './traceparent.js';
import { parseTracestate } from './tracestate.js';

/** Why (part of) an incoming context was not taken, in the order they are reported (spec 2.4). */
export const REJECTION_REASONS = [
  'trace_id_invalid',
  'traceparent_invalid',
  'duplicate_conflict',
  'trace_id_mismatch',
  'vc_invalid',
  'vc_oversized',
  'tracestate_invalid',
] as const;

/** A reason recorded on `request_received` when (part of) the incoming context was rejected. */
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/**
 * How the incoming context was taken (spec 2.4): `accepted` (a trace joined, no reason),
 * `degraded` (a trace joined, with reasons), `rejected` (headers present, no trace joined),
 * `absent` (no Raceway or W3C header).
 */
export type IncomingStatus = 'accepted' | 'degraded' | 'rejected' | 'absent';

/** What an incoming request carried, ready to start the server's execution context. */
export interface ExtractedContext {
  /** The trace to join, or null to start a new trace. */
  traceId: string | null;
  /** The caller's span id, from a `traceparent` of the joined trace. */
  parentSpanId: string | null;
  /**
   * The flags to propagate, from a `traceparent` of the joined trace (sampled and random as
   * received, other bits zeroed); null when there is none: the sampling decision is then taken
   * here (spec 5).
   */
  traceFlags: TraceFlags | null;
  /** The incoming clock, when a trace is joined and `X-Raceway-VC` was valid. */
  clock: VectorClock | null;
  /** Entries the incoming clock left out (its `~dropped` marker), 0 otherwise. */
  clockDropped: number;
  /** The normalised `tracestate` to pass on, when kept (spec 2.3). */
  tracestate: string | null;
  status: IncomingStatus;
  /** In the order of {@link REJECTION_REASONS}, each at most once. */
  reasons: RejectionReason[];
}

/**
 * Reads the incoming trace context (spec 2.1): trace id from `X-Raceway-Trace-Id`, else from
 * `traceparent`; parent span and trace flags from a `traceparent` of the same trace; the clock from
 * `X-Raceway-VC` when a trace is joined; `tracestate` when its `traceparent` was kept. Never
 * throws: whatever is malformed is left out and named in `reasons`.
 *
 * @example
 * const incoming = extractContext(headersFromRecord(req.headers));
 * if (incoming.traceId === null) {
 *   // start a new trace; incoming.status tells whether headers were rejected
 * }
 */
export function extractContext(get: HeaderGetter): ExtractedContext {
  const rawTraceId = safeGet(get, 'x-raceway-trace-id');
  const rawTraceparent = safeGet(get, 'traceparent');
  const vcCopies = headerCopies(safeGet(get, 'x-raceway-vc'), false);
  const tracestateCopies = headerCopies(safeGet(get, 'tracestate'), false);

  const reasons = new Set<RejectionReason>();
  const header = readTraceIdHeader(rawTraceId);
  const parent = readTraceparentHeader(rawTraceparent);
  if (header.kind === 'invalid') reasons.add(header.reason);
  if (parent.kind === 'invalid') reasons.add(parent.reason);

  if (
    header.kind === 'absent' &&
    parent.kind === 'absent' &&
    vcCopies.length === 0 &&
    tracestateCopies.length === 0
  ) {
    return emptyContext('absent', []);
  }

  const traceparent = parent.kind === 'valid' ? parent.traceparent : null;
  let traceId: string | null = null;
  if (header.kind === 'valid') {
    traceId = header.traceId;
    if (traceparent !== null && traceparent.traceId !== traceId) reasons.add('trace_id_mismatch');
  } else if (traceparent !== null) {
    traceId = traceparent.traceId;
  }
  // A traceparent of another trace names a span of that trace: neither its parent id nor its
  // tracestate belong here.
  const sameTrace = traceparent !== null && traceparent.traceId === traceId;

  if (traceId === null) return emptyContext('rejected', ordered(reasons));

  let clock: VectorClock | null = null;
  let clockDropped = 0;
  const vc = singleHeader(vcCopies);
  if (vc.kind === 'conflict') {
    reasons.add('duplicate_conflict');
  } else if (vc.kind === 'value') {
    const decoded = decodeClock(vc.value);
    if (decoded.ok) {
      clock = decoded.clock;
      clockDropped = decoded.dropped;
    } else {
      reasons.add(decoded.reason);
    }
  }

  let tracestate: string | null = null;
  if (sameTrace && tracestateCopies.length > 0) {
    const parsed = parseTracestate(tracestateCopies);
    if (parsed.ok) tracestate = parsed.value;
    else reasons.add('tracestate_invalid');
  }

  return {
    traceId,
    parentSpanId: sameTrace ? traceparent.parentId : null,
    traceFlags: sameTrace ? propagatedFlags(traceparent.flags) : null,
    clock,
    clockDropped,
    tracestate,
    status: reasons.size === 0 ? 'accepted' : 'degraded',
    reasons: ordered(reasons),
  };
}

function emptyContext(status: IncomingStatus, reasons: RejectionReason[]): ExtractedContext {
  return {
    traceId: null,
    parentSpanId: null,
    traceFlags: null,
    clock: null,
    clockDropped: 0,
    tracestate: null,
    status,
    reasons,
  };
}

function ordered(reasons: ReadonlySet<RejectionReason>): RejectionReason[] {
  return REJECTION_REASONS.filter((reason) => reasons.has(reason));
}
