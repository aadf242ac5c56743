/**
 * Every code a {@link RacewayConfigError} can carry. Codes are stable: match on `error.code`,
 * never on the message, which may be reworded.
 */
export type RacewayConfigErrorCode =
  | 'RACEWAY_INVALID_OPTIONS'
  | 'RACEWAY_MISSING_SERVICE_NAME'
  | 'RACEWAY_INVALID_SERVICE_NAME'
  | 'RACEWAY_INVALID_URL'
  | 'RACEWAY_INVALID_API_KEY'
  | 'RACEWAY_INVALID_DISABLED'
  | 'RACEWAY_INVALID_INSTANCE'
  | 'RACEWAY_INVALID_BATCH_SIZE'
  | 'RACEWAY_INVALID_FLUSH_INTERVAL'
  | 'RACEWAY_INVALID_MAX_QUEUE_SIZE'
  | 'RACEWAY_INVALID_MAX_RETRIES'
  | 'RACEWAY_INVALID_REQUEST_TIMEOUT'
  | 'RACEWAY_INVALID_PROPAGATE_TO'
  | 'RACEWAY_INVALID_IGNORE_PATHS'
  | 'RACEWAY_INVALID_SAMPLE_RATE'
  | 'RACEWAY_UNKNOWN_OPTION'
  | 'RACEWAY_INVALID_DEBUG'
  | 'RACEWAY_INVALID_LOGGER'
  | 'RACEWAY_INVALID_MAX_QUEUE_BYTES'
  | 'RACEWAY_INVALID_DB_CAPTURE'
  | 'RACEWAY_INVALID_DB_CAPTURE_VALUES'
  | 'RACEWAY_INVALID_DIGEST_KEY'
  | 'RACEWAY_INVALID_ENVIRONMENT'
  | 'RACEWAY_INVALID_VERSION'
  /** A middleware factory was registered itself instead of its result (`app.use(racewayMiddleware)`). */
  | 'RACEWAY_MIDDLEWARE_NOT_CALLED'
  /** An instrumentation was given something else than what it instruments (options in the instance's place). */
  | 'RACEWAY_INVALID_ARGUMENTS';

/**
 * Thrown when Raceway is configured wrongly: always at construction (`Tracer.fromOptions`,
 * `new Tracer`), never later while the application serves requests. The message names the
 * option (or environment variable) and the value that was refused.
 *
 * @example
 * try {
 *   Tracer.fromOptions({ serviceName: '' });
 * } catch (error) {
 *   if (error instanceof RacewayConfigError && error.code === 'RACEWAY_INVALID_SERVICE_NAME') {
 *     // fix the configuration
 *   }
 * }
 */
export class RacewayConfigError extends Error {
  readonly code: RacewayConfigErrorCode;

  constructor(code: RacewayConfigErrorCode, message: string) {
    super(`[${code}] ${message}`);
    this.name = 'RacewayConfigError';
    this.code = code;
  }
}

/** A short, safe rendering of a refused value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  }
  if (typeof value === 'function') return 'a function';
  if (value instanceof RegExp) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
