// The public API of @raceway/core: what an application calls. Framework and client
// integrations build on the wider surface of `@raceway/core/integration` (integration.ts).
export { DEFAULT_SERVER_URL, type RacewayOptions } from './config.js';
export {
  bindContext,
  getCurrentContext,
  runInContext,
  runOutsideContext,
} from './context/async-context.js';
export type { ExecutionContext } from './context/execution-context.js';
export { type ForkOptions, fork } from './context/fork.js';
export { type StartContextInit, Tracer } from './context/tracer.js';
export { connectionId } from './db/connection-id.js';
export { paramDigest } from './db/param-digest.js';
export { type DbQuery, type DbSystem, recordQuery } from './db/query.js';
export { RacewayConfigError, type RacewayConfigErrorCode } from './errors.js';
export type { ErrorInfo, EventData, EventKind, RacewayEvent } from './events.js';
export { flush, raceway, shutdown } from './lifecycle.js';
export type { RacewayLogger } from './logger.js';
export {
  HEADER_TRACE_ID,
  HEADER_TRACEPARENT,
  HEADER_TRACESTATE,
  HEADER_VC,
} from './propagation/carrier.js';
export { trackEvent } from './recorder/custom.js';
export { trackError } from './recorder/error.js';
export {
  getTraceHeaders,
  type ManualCallResult,
  mergeResponseHeaders,
  type ResponseHeaders,
  type TraceHeadersTarget,
} from './recorder/headers.js';
export {
  type ExclusiveLock,
  recordLockHeld,
  trackLockAcquire,
  trackLockRelease,
  withLock,
} from './recorder/locks.js';
export {
  type StateSeen,
  type StateWritten,
  trackStateRead,
  trackStateWrite,
} from './recorder/state.js';
export type { FlushOptions, ShutdownOptions } from './transport/transport.js';
