// Kept on globalThis so that the ESM and CJS builds of this package, loaded side by side, hand
// out one sequence and give a connection the same id.
const IDS_KEY = Symbol.for('raceway.core.db-connection-ids.v1');

interface ConnectionIds {
  readonly next: Map<string, number>;
  readonly byConnection: WeakMap<object, string>;
}
type IdsHolder = { [IDS_KEY]?: ConnectionIds };

function ids(): ConnectionIds {
  const holder = globalThis as IdsHolder;
  holder[IDS_KEY] ??= { next: new Map(), byConnection: new WeakMap() };
  return holder[IDS_KEY];
}

/**
 * The id of a driver connection in `db_query` events, unique in the process: `<prefix>#<n>`,
 * numbered from 1 per prefix in the order connections are first seen (`pg#3`). The same object
 * always gets the same id; the collector follows transactions by it (spec 4.3). Never throws.
 *
 * @example
 * connectionId(client, 'pg'); // 'pg#1'
 * connectionId(client, 'pg'); // 'pg#1' again
 * connectionId(otherClient, 'pg'); // 'pg#2'
 */
export function connectionId(connection: object, prefix: string): string {
  const { next, byConnection } = ids();
  const known = byConnection.get(connection);
  if (known !== undefined) return known;
  const n = (next.get(prefix) ?? 0) + 1;
  next.set(prefix, n);
  const id = `${prefix}#${n}`;
  try {
    byConnection.set(connection, id);
  } catch {
    // Not an object after all: the id is still unique, only not remembered.
  }
  return id;
}
