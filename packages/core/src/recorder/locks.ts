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
 * Records `lock_acquire`, runs `fn`, and records `lock_release` when it settles, whatever the
 * outcome. It does not lock anything itself: call it inside the critical section of the lock
 * you already use. Resolves or rejects as `fn` does.
 *
 * @example
 * await mutex.runExclusive(() =>
 *   withLock('inventory', async () => {
 *     const stock = await readStock(id);
 *     await writeStock(id, stock - 1);
 *   }),
 * );
 */
export async function withLock<T>(lock: string, fn: () => T | Promise<T>): Promise<T> {
  trackLockAcquire(lock);
  try {
    return await fn();
  } finally {
    trackLockRelease(lock);
  }
}
