import { normalizeTraceId } from '../ids.js';
import { headerCopies, singleHeader } from './carrier.js';

/** What an `X-Raceway-Trace-Id` header gave (spec 2.1, 2.4). */
export type TraceIdHeader =
  | { kind: 'absent' }
  | { kind: 'valid'; traceId: string }
  | { kind: 'invalid'; reason: 'trace_id_invalid' | 'duplicate_conflict' };

const ABSENT: TraceIdHeader = { kind: 'absent' };

/**
 * Reads `X-Raceway-Trace-Id`: copies (a list or a comma-separated value) are trimmed and must
 * be identical; the value is normalised (any case, dashed UUID) to 32 lowercase hex digits.
 */
export function readTraceIdHeader(value: unknown): TraceIdHeader {
  const single = singleHeader(headerCopies(value, true));
  if (single.kind === 'absent') return ABSENT;
  if (single.kind === 'conflict') return { kind: 'invalid', reason: 'duplicate_conflict' };
  const traceId = normalizeTraceId(single.value);
  return traceId === null
    ? { kind: 'invalid', reason: 'trace_id_invalid' }
    : { kind: 'valid', traceId };
}
