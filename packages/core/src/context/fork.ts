import { getCurrentContext, runInContext } from './async-context.js';

/** Options of {@link fork}. */
export interface ForkOptions {
  /** A label for the branch's context (`ctx.name`), for debugging; it does not go on the wire. */
  name?: string;
}

/**
 * Runs `fn` as a concurrent branch of the current context, with its own clock component, so
 * that what two branches do is concurrent in the clocks (and can race), while both stay ordered
 * after what the parent did before forking and before what it does after they settle.
 *
 * The parent records a `fork` event; the branch's clock starts as the parent's clock after that
 * event. When `fn` settles (resolves, rejects or throws), the branch's clock is merged into the
 * parent and the parent records a `join` event (spec 3.2). `fn` starts synchronously, like a
 * promise executor. Outside a context (or with a disabled tracer) `fn` simply runs.
 *
 * @example
 * // Two tasks that both touch stock: Raceway sees them as concurrent.
 * await Promise.all([
 *   fork(() => reserveStock(order)),
 *   fork(() => chargeCard(order)),
 * ]);
 */
export function fork<T>(fn: () => T | Promise<T>, options: ForkOptions = {}): Promise<T> {
  const parent = getCurrentContext();
  if (parent === undefined || parent.owner.disabled) return settle(fn);
  const child = parent.forkChild(options.name ?? null);
  const run = runInContext(child, () => settle(fn));
  return run.then(
    (value) => {
      parent.joinChild(child);
      return value;
    },
    (error: unknown) => {
      parent.joinChild(child);
      throw error;
    },
  );
}

function settle<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}
