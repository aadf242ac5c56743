/** Anything with an EventEmitter's `emit`. */
export interface Emitting {
  emit(event: string | symbol, ...args: unknown[]): boolean;
}

/**
 * Calls `observe` with every event `emitter` emits, before its listeners run, without adding a
 * listener: an `error` nobody listens to still throws as it did, and stream semantics (a
 * `data` listener switching to flowing mode) are untouched. For driver objects that report
 * their end only as events (a query without a callback). Errors of `observe` are swallowed.
 *
 * @example
 * observeEmit(command, (event, args) => {
 *   if (event === 'end') query?.end();
 *   if (event === 'error') query?.end({ error: args[0] });
 * });
 */
export function observeEmit(
  emitter: Emitting,
  observe: (event: string | symbol, args: readonly unknown[]) => void,
): void {
  const emit = emitter.emit;
  if (typeof emit !== 'function') return;
  emitter.emit = function observedEmit(this: unknown, event: string | symbol, ...args: unknown[]) {
    try {
      observe(event, args);
    } catch {
      // Observing is best effort.
    }
    return emit.call(this, event, ...args);
  };
}
