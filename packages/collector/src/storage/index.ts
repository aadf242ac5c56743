import { parseStorage, type StorageLocation } from '../config.js';
import { PostgresStorage } from './postgres.js';
import { SqliteStorage } from './sqlite.js';
import type { Storage } from './types.js';

export { PostgresStorage } from './postgres.js';
export { SqliteStorage, type SqliteStorageOptions } from './sqlite.js';
export type * from './types.js';

/**
 * Opens (and initialises) the storage named by `sqlite:<path>` or `postgres://...`.
 *
 * @example
 * const storage = await openStorage('sqlite:./raceway.db');
 */
export async function openStorage(spec: string | StorageLocation): Promise<Storage> {
  const location = typeof spec === 'string' ? parseStorage(spec) : spec;
  const storage =
    location.kind === 'sqlite'
      ? new SqliteStorage(location.path)
      : new PostgresStorage(location.url);
  try {
    await storage.init();
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
  return storage;
}
