import { serializeError } from '../events.js';
import { withActiveContext } from './active-context.js';

/**
 * Records an error seen by the application (one it handled, or is about to rethrow), with its
 * type, message and stack. The collector follows errors across services. No-op outside a
 * context; never throws.
 *
 * @example
 * try {
 *   await chargeCard(order);
 * } catch (error) {
 *   trackError(error);
 *   throw error;
 * }
 */
export function trackError(error: unknown): void {
  withActiveContext((ctx) => {
    ctx.record('error', serializeError(error));
  });
}
