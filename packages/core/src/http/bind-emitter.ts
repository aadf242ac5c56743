import { runInContext } from '../context/async-context.js';
import type { ExecutionContext } from '../context/execution-context.js';

/** An event listener. */
export type Listener = (...args: unknown[]) => unknown;
type Register = (event: string | symbol, listener: Listener) => unknown;

/** The listener methods of an EventEmitter (node's request and response) that get bound. */
export interface ListenerEmitterLike {
  on: Register;
  addListener: Register;
  once: Register;
  removeListener(event: string | symbol, listener: Listener): unknown;
}

/**
 * `listener`, made to run in `ctx` whoever emits the event. The wrapper keeps a `listener`
 * property pointing at the original, node's own convention (its `once` does the same), so
 * `removeListener(original)` and `listeners()` see through it.
 */
export function bindListener(listener: Listener, ctx: ExecutionContext): Listener {
  const bound = function boundListener(this: unknown, ...args: unknown[]) {
    return runInContext(ctx, () => listener.apply(this, args));
  };
  (bound as { listener?: Listener }).listener = listener;
  return bound;
}

/**
 * Like {@link bindListener} for a `once` listener: it removes itself before it runs. Meant to
 * be registered with `on` rather than node's `once`, whose wrapper would hide the original
 * function from `removeListener`.
 */
export function bindOnceListener(
  emitter: Pick<ListenerEmitterLike, 'removeListener'>,
  event: string | symbol,
  listener: Listener,
  ctx: ExecutionContext,
): Listener {
  let fired = false;
  const bound = function onceBoundListener(this: unknown, ...args: unknown[]) {
    emitter.removeListener(event, bound);
    if (fired) return undefined;
    fired = true;
    return runInContext(ctx, () => listener.apply(this, args));
  };
  (bound as { listener?: Listener }).listener = listener;
  return bound;
}

const CONTEXT = Symbol('raceway.listener-context');
const ORIGINAL_ON = Symbol('raceway.original-on');

type BoundEmitter = ListenerEmitterLike & {
  [CONTEXT]: ExecutionContext;
  [ORIGINAL_ON]: Register;
};

// Shared by every bound emitter: each carries its context and its original `on`.
function onBound(this: BoundEmitter, event: string | symbol, listener: Listener): unknown {
  if (typeof listener !== 'function') return this[ORIGINAL_ON].call(this, event, listener);
  return this[ORIGINAL_ON].call(this, event, bindListener(listener, this[CONTEXT]));
}

function onceBound(this: BoundEmitter, event: string | symbol, listener: Listener): unknown {
  if (typeof listener !== 'function') return this[ORIGINAL_ON].call(this, event, listener);
  return this[ORIGINAL_ON].call(
    this,
    event,
    bindOnceListener(this, event, listener, this[CONTEXT]),
  );
}

/**
 * Makes every listener registered on `emitter` from now on (`on`, `addListener`, `once`) run in
 * `ctx`. A request's `data` and `end` events fire from the socket, outside the async context of
 * the handler that listens to them: without this, a handler that reads the body itself
 * (`req.on('data', ...)`) loses its trace. Only this one object is changed.
 *
 * The server lifecycle binds node's own request and response objects through
 * `node-http-hooks.ts` instead (no per-request change to them); this is the fallback for other
 * emitters.
 *
 * @example
 * bindEmitter(req, span.context);
 * req.on('end', () => trackEvent('body_read')); // recorded on the request's trace
 */
export function bindEmitter(emitter: ListenerEmitterLike, ctx: ExecutionContext): void {
  const target = emitter as BoundEmitter;
  target[CONTEXT] = ctx;
  // Bound already (two tracing middlewares on one app): the latest context wins.
  if (target.on === onBound) return;
  target[ORIGINAL_ON] = emitter.on;
  target.on = onBound;
  target.addListener = onBound;
  target.once = onceBound;
}
