import type { EventData } from '../events.js';
import { toEventValue } from '../events.js';
import { nameOf, withActiveContext } from './active-context.js';

const MAX_RESOURCE = 512;
const MAX_VERSION = 512;

/** What was seen by a read. */
export interface StateSeen {
  /** The value read; recorded as JSON, cut to 1 KiB. */
  value?: unknown;
  /** A version, etag or counter identifying the state read. */
  version?: string | number;
}

/** What was written. */
export interface StateWritten extends StateSeen {
  /**
   * true for an update that cannot lose another write (compare-and-set, `UPDATE ... SET x = x - 1`):
   * Raceway does not report races between atomic writes.
   */
  atomic?: boolean;
}

/**
 * Records that the current context read a named piece of shared state. Two unordered accesses
 * to the same resource from different contexts, one of them a write, are a race. No-op outside
 * a context; never throws.
 *
 * @example
 * const row = await db.get('SELECT stock, version FROM items WHERE id = ?', id);
 * trackStateRead(`items/${id}`, { value: row.stock, version: row.version });
 */
export function trackStateRead(resource: string, seen?: StateSeen): void {
  withActiveContext((ctx) => {
    const name = nameOf(resource, MAX_RESOURCE);
    if (name === null) return;
    const data: EventData['state_read'] = { resource: name };
    addSeen(data, seen);
    ctx.record('state_read', data);
  });
}

/**
 * Records that the current context wrote a named piece of shared state. No-op outside a
 * context; never throws.
 *
 * @example
 * await db.run('UPDATE items SET stock = ? WHERE id = ?', stock - 1, id);
 * trackStateWrite(`items/${id}`, { value: stock - 1 });
 * // An atomic decrement cannot lose an update:
 * trackStateWrite(`items/${id}`, { atomic: true });
 */
export function trackStateWrite(resource: string, written?: StateWritten): void {
  withActiveContext((ctx) => {
    const name = nameOf(resource, MAX_RESOURCE);
    if (name === null) return;
    const data: EventData['state_write'] = { resource: name };
    addSeen(data, written);
    if (typeof written?.atomic === 'boolean') data.atomic = written.atomic;
    ctx.record('state_write', data);
  });
}

function addSeen(
  data: { value?: unknown; version?: string | number },
  seen: StateSeen | undefined,
): void {
  if (seen === null || typeof seen !== 'object') return;
  if ('value' in seen) {
    const value = toEventValue(seen.value);
    if (value !== undefined) data.value = value;
  }
  const version = seen.version;
  // The schema takes a string or an integer; any other number is kept as its text.
  if (typeof version === 'number' && Number.isSafeInteger(version)) data.version = version;
  else if (typeof version === 'number' && Number.isFinite(version)) data.version = String(version);
  else if (typeof version === 'string') data.version = version.slice(0, MAX_VERSION);
}
