import { getCurrentContext } from '../context/async-context.js';
import type { ExecutionContext } from '../context/execution-context.js';
import { clampString } from '../events.js';

/**
 * Runs `record` with the current context when there is one and its tracer is enabled; does
 * nothing otherwise. Whatever goes wrong inside stays inside: the recording API is called from
 * application code and must never throw into it.
 */
export function withActiveContext(record: (ctx: ExecutionContext) => void): void {
  try {
    const ctx = getCurrentContext();
    if (ctx === undefined || ctx.owner.disabled) return;
    record(ctx);
  } catch {
    // Recording is best effort by design.
  }
}

/** A non-empty name for a resource, lock or event, cut to `max` characters; null when unusable. */
export function nameOf(value: unknown, max: number): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const name = String(value);
  return name === '' ? null : clampString(name, max);
}
