import { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutionContext } from './execution-context.js';

// One storage per process, kept on globalThis under a registered symbol: when both the ESM and
// the CJS build of this package are loaded (an adapter required from CJS, the app in ESM), they
// must still see the same current context.
const STORAGE_KEY = Symbol.for('raceway.core.context-storage.v1');

type Holder = { [STORAGE_KEY]?: AsyncLocalStorage<ExecutionContext> };

function storage(): AsyncLocalStorage<ExecutionContext> {
  const holder = globalThis as Holder;
  let store = holder[STORAGE_KEY];
  if (store === undefined) {
    store = new AsyncLocalStorage<ExecutionContext>();
    holder[STORAGE_KEY] = store;
  }
  return store;
}

/**
 * The execution context of the code that is running, or `undefined` outside any traced work.
 * It follows async/await, promises, timers and callbacks (AsyncLocalStorage).
 *
 * @example
 * app.get('/orders/:id', async (req, res) => {
 *   const ctx = getCurrentContext();
 *   console.log(ctx?.traceId);
 * });
 */
export function getCurrentContext(): ExecutionContext | undefined {
  return storage().getStore();
}

/**
 * Runs `fn` with `ctx` as the current context; everything `fn` starts, synchronously or
 * asynchronously, sees it. Returns what `fn` returns.
 *
 * @example
 * const ctx = tracer.startContext({});
 * await runInContext(ctx, () => processJob(job));
 */
export function runInContext<T>(ctx: ExecutionContext, fn: () => T): T {
  return storage().run(ctx, fn);
}

/**
 * Binds `fn` to a context (the current one by default): whenever it is called later, from
 * wherever, it runs in that context. For callbacks that an event emitter or a pool calls from
 * outside the request that registered them.
 *
 * @example
 * emitter.on('done', bindContext(() => trackEvent('job_done')));
 */
export function bindContext<A extends unknown[], R>(
  fn: (...args: A) => R,
  ctx: ExecutionContext | undefined = getCurrentContext(),
): (...args: A) => R {
  if (ctx === undefined) return fn;
  return function bound(this: unknown, ...args: A): R {
    return storage().run(ctx, () => fn.apply(this, args));
  };
}

/**
 * Runs `fn` outside any execution context, so that work it starts (the transport's timers and
 * requests to the collector) is never attributed to, or instrumented as part of, a request.
 */
export function runOutsideContext<T>(fn: () => T): T {
  return storage().exit(fn);
}
