export { connectionId } from './connection-id.js';
export { type Emitting, observeEmit } from './observe-emit.js';
export {
  canonicalParam,
  DEFAULT_DIGEST_KEY,
  digestCanonical,
  paramDigest,
} from './param-digest.js';
export {
  bindPoolCheckoutCallbacks,
  driverPrototype,
  type PrototypeMethod,
  prototypeDefining,
  unwrapPrototypeMethod,
  wrapPrototypeMethod,
} from './patch-prototype.js';
export {
  type DbQuery,
  type DbSystem,
  MAX_STATEMENT_LENGTH,
  QueryInFlight,
  type QueryInit,
  type QueryResult,
  queryContext,
  recordQuery,
  startQuery,
} from './query.js';
