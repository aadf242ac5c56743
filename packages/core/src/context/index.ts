export {
  bindContext,
  getCurrentContext,
  runInContext,
  runOutsideContext,
} from './async-context.js';
export type { ContextOwner, QueryCapture } from './context-owner.js';
export {
  type ClockTick,
  ExecutionContext,
  type ExecutionContextInit,
  type RecordOverrides,
} from './execution-context.js';
export { type ForkOptions, fork } from './fork.js';
export { type StartContextInit, Tracer, type TracerDependencies } from './tracer.js';
