export * from './clock/index.js';
export {
  DEFAULT_SERVER_URL,
  type RacewayOptions,
  type ResolvedConfig,
  resolveConfig,
  TRANSPORT_DEFAULTS,
} from './config.js';
export * from './context/index.js';
export { RacewayConfigError, type RacewayConfigErrorCode } from './errors.js';
export {
  type ErrorInfo,
  type EventData,
  type EventKind,
  MAX_VALUE_BYTES,
  nowMicros,
  type RacewayEvent,
  serializeError,
  toEventValue,
} from './events.js';
export * from './http/index.js';
export * from './ids.js';
export * from './propagation/index.js';
export * from './recorder/index.js';
export * from './transport/index.js';
export { DEFAULT_IGNORE_PATHS, defaultPropagateTo, type PropagateToOption } from './url-filters.js';
