import { nameOf, withActiveContext } from './active-context.js';

const MAX_LOCK = 512;

/**
 * Records that the current context took a named lock. Accesses made while two contexts hold a
 * common lock are not reported as races. No-op outside a context; never throws.
 *
 * @example
 * await mutex.lock();
 * trackLockAcquire('inventory');
 */
export function trackLockAcquire(lock: string): void {
  withActiveContext((ctx) => {
    const name = nameOf(lock, MAX_LOCK);
    if (name !== null) ctx.record('lock_acquire', { lock: name });
  });
}

/**
 * Records that the current context released a named lock. No-op outside a context; never
 * throws.
 *
 * @example
 * trackLockRelease('inventory');
 * mutex.unlock();
 */
export function trackLockRelease(lock: string): void {
  withActiveContext((ctx) => {
    const name = nameOf(lock, MAX_LOCK);
    if (name !== null) ctx.record('lock_release', { lock: name });
  });
}

/**
 * A lock that {@link withLock} takes: anything with `runExclusive(fn)` (async-mutex's `Mutex`
 * and `Semaphore`), or with `acquire()` resolving to the function that releases it.
 */
export type ExclusiveLock =
  | { runExclusive<T>(fn: () => T | Promise<T>): Promise<T> }
  | { acquire(): Promise<() => void> };

/**
 * Takes `lock`, records `lock_acquire` of `name`, runs `fn`, records `lock_release` and
 * releases `lock`, whatever the outcome: concurrent calls run `fn` one at a time, and accesses
 * made while two contexts hold a common lock are not reported as races. Resolves or rejects as
 * `fn` does. (The two-argument form only records; it is kept for existing code, and
 * {@link recordLockHeld} is its clear name.)
 *
 * @example
 * const stockLock = new Mutex(); // async-mutex
 * await withLock('stock:42', stockLock, async () => {
 *   const stock = await readStock(42);
 *   await writeStock(42, stock - 1);
 * });
 */
export function withLock<T>(
  name: string,
  lock: ExclusiveLock,
  fn: () => T | Promise<T>,
): Promise<T>;
/** @deprecated Records only, takes no lock: write `recordLockHeld(name, fn)`, or pass the lock. */
export function withLock<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
export async function withLock<T>(
  name: string,
  lockOrFn: ExclusiveLock | (() => T | Promise<T>),
  fn?: () => T | Promise<T>,
): Promise<T> {
  if (typeof lockOrFn === 'function') return recordLockHeld(name, lockOrFn);
  if (fn === undefined) throw new TypeError('withLock(name, lock, fn): fn is missing');
  const work = fn;
  if ('runExclusive' in lockOrFn) return lockOrFn.runExclusive(() => recordLockHeld(name, work));
  const release = await lockOrFn.acquire();
  try {
    return await recordLockHeld(name, work);
  } finally {
    release();
  }
}

/**
 * Records `lock_acquire`, runs `fn`, and records `lock_release` when it settles, whatever the
 * outcome. It locks nothing itself: it is for a lock the application already holds (a lock
 * service, a database advisory lock); {@link withLock} takes one. Resolves or rejects as `fn`
 * does.
 *
 * @example
 * await redisLock.using(['stock:42'], 5000, () =>
 *   recordLockHeld('stock:42', async () => writeStock(42, (await readStock(42)) - 1)),
 * );
 */
export async function recordLockHeld<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  trackLockAcquire(name);
  try {
    return await fn();
  } finally {
    trackLockRelease(name);
  }
}
