import type { EventData } from '../events.js';
import { toEventValue } from '../events.js';
import { nameOf, withActiveContext } from './active-context.js';

const MAX_NAME = 256;
const MAX_ATTRIBUTES = 64;

/**
 * Records an application event of your own, with attributes (each value recorded as JSON, cut
 * to 1 KiB; at most 64 attributes). No-op outside a context; never throws.
 *
 * @example
 * trackEvent('cache_miss', { key: `items/${id}` });
 */
export function trackEvent(name: string, attributes?: Record<string, unknown>): void {
  withActiveContext((ctx) => {
    const eventName = nameOf(name, MAX_NAME);
    if (eventName === null) return;
    const data: EventData['custom'] = { name: eventName };
    if (attributes !== null && typeof attributes === 'object') {
      const kept: Record<string, unknown> = {};
      let count = 0;
      for (const [key, value] of Object.entries(attributes)) {
        if (count === MAX_ATTRIBUTES) break;
        const recorded = toEventValue(value);
        if (recorded === undefined) continue;
        // defineProperty, so that an attribute named __proto__ stays an attribute.
        Object.defineProperty(kept, key, {
          value: recorded,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        count++;
      }
      data.attributes = kept;
    }
    ctx.record('custom', data);
  });
}
