/**
 * A misconfiguration of the collector (bad flag, bad storage URL, bad duration). Thrown at
 * construction with a stable `code` so callers and the CLI can react without parsing text.
 *
 * @example
 * try { parseDuration('7 days') } catch (e) { if (e instanceof RacewayConfigError) console.error(e.code) }
 */
export class RacewayConfigError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'RacewayConfigError';
    this.code = code;
  }
}

/**
 * An error answered to an HTTP client as `{ error, message, ...details }` with `statusCode`.
 * Route handlers throw it; the server's error handler turns it into the JSON answer.
 */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly error: string;
  readonly details: Record<string, unknown>;

  constructor(
    statusCode: number,
    error: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.error = error;
    this.details = details;
  }
}
