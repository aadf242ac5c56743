/**
 * SQLSTATE classes and codes after which a connection cannot be used again: connection
 * exceptions (08), the server shutting down or crashing (57P01-57P03), and a server out of
 * connection slots (53300).
 */
const CONNECTION_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/**
 * True when `error` means the connection to PostgreSQL failed rather than the statement: an
 * error without a SQLSTATE (socket closed, refused, timed out) or one of the codes above.
 * A statement error (constraint, syntax, ...) leaves the connection usable.
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
  return sqlState === null || CONNECTION_SQLSTATE.test(sqlState);
}

/**
 * A one-line description of a connection failure. Node's AggregateError (a host name with
 * several addresses, all refused) has an empty message: its parts and code say what failed.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code } = error as NodeJS.ErrnoException;
  if (error.message) return error.message;
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describeError).join('; ');
  }
  return code ?? error.name;
}
