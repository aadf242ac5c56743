import { fork } from './context/fork.js';
import { trackEvent } from './recorder/custom.js';
import { trackError } from './recorder/error.js';
import { getTraceHeaders, mergeResponseHeaders } from './recorder/headers.js';
import { recordLockHeld, trackLockAcquire, trackLockRelease, withLock } from './recorder/locks.js';
import { trackStateRead, trackStateWrite } from './recorder/state.js';
import { allTransports } from './transport/registry.js';
import type { FlushOptions, ShutdownOptions } from './transport/transport.js';

/**
 * Sends what every transport of the process holds (each tracer, whatever options its
 * middleware got) and resolves when it has left: delivered, refused or dropped. With a
 * collector that is down, it waits until the collector is back or `timeoutMs` runs out; events
 * not sent by then stay queued. Never rejects.
 *
 * @example
 * await flush({ timeoutMs: 2000 });
 */
export async function flush(options: FlushOptions = {}): Promise<void> {
  await Promise.all(allTransports().map((transport) => transport.flush(options)));
}

/**
 * Flushes every transport of the process within a time limit (default 5 s each, in parallel),
 * then stops their timers and closes their connections; what is left at the limit is dropped
 * and counted. Call it before exiting on a signal: Raceway flushes by itself on a natural exit
 * but installs no signal handlers. A transport that receives events afterwards starts again.
 * Never rejects.
 *
 * @example
 * process.on('SIGTERM', async () => {
 *   server.close();
 *   await shutdown();
 *   process.exit(0);
 * });
 */
export async function shutdown(options: ShutdownOptions = {}): Promise<void> {
  await Promise.all(allTransports().map((transport) => transport.shutdown(options)));
}

/**
 * The application API in one object, for code that prefers `raceway.trackStateWrite(...)` to
 * named imports.
 *
 * @example
 * import { raceway } from '@raceway/core';
 * const headers = raceway.getTraceHeaders({ url });
 * await raceway.shutdown();
 */
export const raceway = Object.freeze({
  getTraceHeaders,
  mergeResponseHeaders,
  trackStateRead,
  trackStateWrite,
  trackLockAcquire,
  trackLockRelease,
  withLock,
  recordLockHeld,
  trackError,
  trackEvent,
  fork,
  flush,
  shutdown,
});
