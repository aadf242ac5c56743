// One `beforeExit` listener per process, whatever the number of transports (and whether the
// ESM or the CJS build registered them): a listener per transport would trip node's
// MaxListenersExceeded warning in a process that runs several services.
const HOOKS_KEY = Symbol.for('raceway.core.before-exit.v1');
type Holder = { [HOOKS_KEY]?: Set<() => void> };

function hooks(): Set<() => void> {
  const holder = globalThis as Holder;
  let set = holder[HOOKS_KEY];
  if (set === undefined) {
    const created = new Set<() => void>();
    process.on('beforeExit', () => {
      for (const hook of Array.from(created)) {
        try {
          hook();
        } catch {
          // One transport's hook must not keep the others from flushing.
        }
      }
    });
    holder[HOOKS_KEY] = created;
    set = created;
  }
  return set;
}

/**
 * Calls `hook` when the process is about to exit naturally (its event loop ran empty), the
 * moment to flush what is queued. Not called on `process.exit()` or on signals.
 */
export function onBeforeExit(hook: () => void): void {
  hooks().add(hook);
}

/** Removes a hook added with {@link onBeforeExit}. */
export function offBeforeExit(hook: () => void): void {
  hooks().delete(hook);
}
