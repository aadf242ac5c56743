import { closestName } from './did-you-mean.js';
import { describeValue, RacewayConfigError } from './errors.js';
import { consoleLogger } from './logger.js';

/**
 * True when a middleware factory received what a framework passes to a middleware (a request
 * or a Koa context and a `next` function) instead of options: it was registered uncalled,
 * `app.use(racewayMiddleware)`.
 *
 * @example
 * export function racewayMiddleware(options = {}) {
 *   if (isMiddlewareCall(options, arguments[arguments.length - 1])) return misusedMiddleware('@raceway/express');
 *   // ...
 * }
 */
export function isMiddlewareCall(first: unknown, last: unknown): boolean {
  if (typeof last !== 'function' || first === null || typeof first !== 'object') return false;
  const value = first as Record<string, unknown>;
  // node's IncomingMessage (Express) or a Koa context (which holds one as `req`).
  const request = (value.req ?? value) as Record<string, unknown>;
  return typeof request.method === 'string' && typeof request.headers === 'object';
}

/**
 * The coded error of a middleware factory registered uncalled. Frameworks call middleware per
 * request, never at registration, so the first request is the earliest it can be seen.
 */
export function middlewareNotCalledError(packageName: string): RacewayConfigError {
  return new RacewayConfigError(
    'RACEWAY_MIDDLEWARE_NOT_CALLED',
    `racewayMiddleware from ${packageName} was registered without being called: write app.use(racewayMiddleware({ serviceName: '...' })), not app.use(racewayMiddleware). Requests go on untraced until this is fixed.`,
  );
}

const REPORTED_KEY = Symbol.for('raceway.core.misuse-reported.v1');
type Holder = { [REPORTED_KEY]?: Set<string> };

/**
 * Prints a misuse error once per process (console, `[raceway]` prefix): a misuse found while
 * serving requests must be loud, but must neither fail every request nor flood the log.
 */
export function reportMisuseOnce(error: RacewayConfigError): void {
  const holder = globalThis as Holder;
  holder[REPORTED_KEY] ??= new Set();
  if (holder[REPORTED_KEY].has(error.message)) return;
  holder[REPORTED_KEY].add(error.message);
  consoleLogger.error(error.message);
}

const CLIENT_OPTION_NAMES = ['propagateTo'];

/**
 * Checks the options of a client instrumentation (`instrumentFetch`, `wrapFetch`,
 * `instrumentAxios`) when it is installed: an object with known names only. Throws a
 * `RacewayConfigError` (`RACEWAY_INVALID_ARGUMENTS`, or `RACEWAY_UNKNOWN_OPTION` with a
 * did-you-mean).
 */
export function checkClientOptions(options: unknown, call: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_ARGUMENTS',
      `${call}: options must be an object such as { propagateTo: [...] }, got ${describeValue(options)}`,
    );
  }
  for (const name of Object.keys(options)) {
    if (CLIENT_OPTION_NAMES.includes(name)) continue;
    const suggestion = closestName(name, CLIENT_OPTION_NAMES);
    throw new RacewayConfigError(
      'RACEWAY_UNKNOWN_OPTION',
      `${call}: unknown option ${describeValue(name)}${suggestion === null ? '' : `: did you mean ${describeValue(suggestion)}?`}; a client instrumentation takes only propagateTo (serviceName, serverUrl and the rest go to the server middleware)`,
    );
  }
}
