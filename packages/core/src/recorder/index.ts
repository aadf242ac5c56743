export { mergeResponseClock } from '../http/response-clock.js';
export { trackEvent } from './custom.js';
export { trackError } from './error.js';
export { getTraceHeaders, mergeResponseHeaders } from './headers.js';
export {
  type ExclusiveLock,
  recordLockHeld,
  trackLockAcquire,
  trackLockRelease,
  withLock,
} from './locks.js';
export { type StateSeen, type StateWritten, trackStateRead, trackStateWrite } from './state.js';
