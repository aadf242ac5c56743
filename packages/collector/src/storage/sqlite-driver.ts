import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { RacewayConfigError } from '../errors.js';

// better-sqlite3 is a native module, loaded here on first use rather than imported: a
// collector on PostgreSQL never loads it, so it runs where the driver was not built (it is an
// optional dependency: its install may fail without failing the collector's).

let driver: typeof Database | undefined;

/** What a missing or unbuilt driver looks like, whichever step found it. */
const isMissingDriver = (error: unknown): boolean => {
  const { code, message } = error as NodeJS.ErrnoException;
  return (
    code === 'MODULE_NOT_FOUND' ||
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'ERR_DLOPEN_FAILED' ||
    /Could not locate the bindings file|NODE_MODULE_VERSION/.test(String(message))
  );
};

function missingDriver(error: unknown): RacewayConfigError {
  return new RacewayConfigError(
    'RACEWAY_SQLITE_DRIVER_MISSING',
    `SQLite storage needs the better-sqlite3 driver, which is not installed or not built for this Node.js (${(error as Error).message.split('\n')[0]}): install it (npm install better-sqlite3, with a C++ toolchain if no prebuilt binary fits), or use PostgreSQL storage (--storage postgres://...)`,
  );
}

/**
 * Opens a SQLite database with better-sqlite3, loading the driver on the first call. A driver
 * that is missing or not built for this Node.js is a {@link RacewayConfigError} that says so.
 */
export function openSqliteDatabase(path: string): Database.Database {
  try {
    driver ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    // The native addon itself is loaded by the first `new Database`.
    return new driver(path);
  } catch (error) {
    throw isMissingDriver(error) ? missingDriver(error) : error;
  }
}
