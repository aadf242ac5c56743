// Small normalisers that keep wire-derived values inside the event schema's bounds, so that an
// odd request never turns into an event the collector rejects.

const METHOD = /^[A-Z][A-Z0-9_-]{0,31}$/;
const MAX_PATH = 2048;
const MAX_ROUTE = 512;
const MAX_URL = 2048;
const MAX_HOST = 512;

/**
 * An HTTP method as the event schema accepts it: upper case, `[A-Z][A-Z0-9_-]{0,31}`; anything
 * else (an extension method with odd characters) becomes `OTHER`.
 *
 * @example
 * eventMethod('get'); // 'GET'
 */
export function eventMethod(method: string | undefined): string {
  if (!method) return 'GET';
  if (METHOD.test(method)) return method;
  const upper = method.toUpperCase();
  return METHOD.test(upper) ? upper : 'OTHER';
}

/**
 * The path part of a request target: everything before `?` or `#`.
 *
 * @example
 * pathOf('/users/7?expand=1'); // '/users/7'
 */
export function pathOf(target: string | undefined): string {
  if (!target) return '/';
  let end = target.indexOf('?');
  const hash = target.indexOf('#');
  if (end === -1 || (hash !== -1 && hash < end)) end = hash;
  return end === -1 ? target : target.slice(0, end);
}

/** A request path cut to the schema's 2048 characters. */
export function eventPath(path: string): string {
  return path.length > MAX_PATH ? path.slice(0, MAX_PATH) : path;
}

/** A route template cut to the schema's 512 characters; empty or missing gives null. */
export function eventRoute(route: string | null | undefined): string | null {
  if (typeof route !== 'string' || route.length === 0) return null;
  return route.length > MAX_ROUTE ? route.slice(0, MAX_ROUTE) : route;
}

/** The status code the schema accepts (100..599), or undefined. */
export function eventStatus(status: unknown): number | undefined {
  return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599
    ? status
    : undefined;
}

/**
 * The target of a client call as recorded: the URL without credentials, query string or
 * fragment (they may carry secrets), and its `host[:port]`.
 *
 * @example
 * eventTarget(new URL('http://u:p@inventory:8080/items/1?token=x'));
 * // { url: 'http://inventory:8080/items/1', host: 'inventory:8080' }
 */
export function eventTarget(url: URL): { url: string; host: string } {
  let target = url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin;
  target += url.pathname;
  const host = url.host || url.protocol;
  return {
    url: target.length > MAX_URL ? target.slice(0, MAX_URL) : target,
    host: host.length > MAX_HOST ? host.slice(0, MAX_HOST) : host,
  };
}
