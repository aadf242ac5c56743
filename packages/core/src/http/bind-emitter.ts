import { runInContext } from '../context/async-context.js';
import type { ExecutionContext } from '../context/execution-context.js';

type Listener = (...args: unknown[]) => unknown;
type Register = (event: string | symbol, listener: Listener) => unknown;

/** The listener-registration methods of an EventEmitter (node's request and response). */
export interface ListenerEmitterLike {
  on: Register;
  addListener: Register;
  once: Register;
  prependListener: Register;
  prependOnceListener: Register;
  removeListener(event: string | symbol, listener: Listener): unknown;
}

/**
 * Makes every listener registered on `emitter` from now on run in `ctx`. A request's `data` and
 * `end` events fire from the socket, outside the async context of the handler that listens to
 * them: without this, a handler that reads the body itself (`req.on('data', ...)`) loses its
 * trace. Only this one object is changed.
 *
 * Wrapped listeners keep a `listener` property pointing at the original, the convention node's
 * own `once` uses, so `removeListener(original)` and `listeners()` behave as before. `once` is
 * rebuilt on `on` for the same reason.
 *
 * @example
 * bindEmitter(req, span.context);
 * req.on('end', () => trackEvent('body_read')); // recorded on the request's trace
 */
export function bindEmitter(emitter: ListenerEmitterLike, ctx: ExecutionContext): void {
  const on = emitter.on;
  const prepend = emitter.prependListener;
  const bind = (listener: Listener): Listener => {
    const bound = function boundListener(this: unknown, ...args: unknown[]) {
      return runInContext(ctx, () => listener.apply(this, args));
    };
    (bound as { listener?: Listener }).listener = listener;
    return bound;
  };
  const bindOnce = (event: string | symbol, listener: Listener): Listener => {
    let fired = false;
    const bound = function onceBoundListener(this: unknown, ...args: unknown[]) {
      emitter.removeListener(event, bound);
      if (fired) return undefined;
      fired = true;
      return runInContext(ctx, () => listener.apply(this, args));
    };
    (bound as { listener?: Listener }).listener = listener;
    return bound;
  };
  const wrap = (register: Register, once: boolean): Register =>
    function registerBound(this: unknown, event, listener) {
      if (typeof listener !== 'function') return register.call(this, event, listener);
      return register.call(this, event, once ? bindOnce(event, listener) : bind(listener));
    };
  emitter.on = wrap(on, false);
  emitter.addListener = emitter.on;
  emitter.once = wrap(on, true);
  emitter.prependListener = wrap(prepend, false);
  emitter.prependOnceListener = wrap(prepend, true);
}
