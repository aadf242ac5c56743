export {
  HEADER_TRACE_ID,
  HEADER_TRACEPARENT,
  HEADER_TRACESTATE,
  HEADER_VC,
  type HeaderGetter,
  type HeaderSetter,
  type HeaderValue,
  headersFromRecord,
  headersIntoRecord,
} from './carrier.js';
export {
  type ExtractedContext,
  extractContext,
  type IncomingStatus,
  REJECTION_REASONS,
  type RejectionReason,
} from './extract.js';
export { injectContext, type OutgoingContext } from './inject.js';
export {
  decidedFlags,
  isSampledFlags,
  propagatedFlags,
  type TraceFlags,
} from './trace-flags.js';
export { formatTraceparent, parseTraceparent, type Traceparent } from './traceparent.js';
export {
  MAX_TRACESTATE_LENGTH,
  MAX_TRACESTATE_MEMBERS,
  type ParsedTracestate,
  parseTracestate,
} from './tracestate.js';
