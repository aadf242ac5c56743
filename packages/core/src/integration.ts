// `@raceway/core/integration`: the surface that framework adapters and client injectors build
// on (the shared server lifecycle, client calls, the header codec, clocks, ids, the transport),
// on top of everything the public entry point exports. Applications import `@raceway/core`.

export * from './clock/index.js';
export {
  DEFAULT_SERVER_URL,
  type RacewayOptions,
  type ResolvedConfig,
  resolveConfig,
  TRANSPORT_DEFAULTS,
} from './config.js';
export * from './context/index.js';
export * from './db/index.js';
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
export * from './index.js';
export { Diagnostics } from './logger.js';
export {
  checkClientOptions,
  isMiddlewareCall,
  middlewareNotCalledError,
  reportMisuseOnce,
} from './misuse.js';
export * from './propagation/index.js';
export * from './recorder/index.js';
export * from './sampling/index.js';
export * from './transport/index.js';
export { DEFAULT_IGNORE_PATHS, defaultPropagateTo, type PropagateToOption } from './url-filters.js';
