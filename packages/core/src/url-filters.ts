import {
  compileHostPattern,
  isInternalHost,
  normalizedHost,
  splitPropagateToList,
} from './url-filters-hosts.js';

/** Which outgoing URLs receive trace headers: a list of host patterns, or a predicate. */
export type PropagateToOption = Array<string | RegExp> | ((url: URL) => boolean);

/**
 * The default `propagateTo` rule (spec 6.1): true for hosts that are almost certainly part of
 * the same system, false for third-party hosts, which should not learn trace ids or clocks.
 *
 * Internal means: an address in 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
 * 100.64.0.0/10, 169.254.0.0/16, `::1`, fc00::/7 or fe80::/10; `localhost`; a single-label
 * name (service names such as `inventory`, as in Docker or Kubernetes); a name ending in
 * `.localhost`, `.local`, `.internal` or `.svc` (`*.svc.cluster.local` included).
 *
 * @example
 * defaultPropagateTo(new URL('http://inventory:3000/items')); // true
 * defaultPropagateTo(new URL('https://api.stripe.com/v1/charges')); // false
 * // Extend rather than replace the default:
 * Tracer.fromOptions({
 *   serviceName: 'shop',
 *   propagateTo: (url) => defaultPropagateTo(url) || url.hostname === 'api.partner.example',
 * });
 */
export function defaultPropagateTo(url: URL): boolean {
  return isInternalHost(normalizedHost(url));
}

type UrlMatcher = (url: URL) => boolean;

/**
 * Compiles a `propagateTo` option into a predicate. Throws `Error` with a message naming the bad
 * entry (the config layer wraps it into a coded error); the predicate itself never throws.
 *
 * Entries: the host patterns of spec 6.2 (`*`, `*.example.com` for subdomains only, a CIDR
 * range such as `10.0.0.0/8`, an address, a hostname, either with `:port`), an origin
 * (`https://api.example.com`), or a RegExp tested against the full URL.
 */
export function compilePropagateTo(option: PropagateToOption | undefined): UrlMatcher {
  if (option === undefined) return safe(defaultPropagateTo);
  if (typeof option === 'function') return safe(option);
  if (!Array.isArray(option))
    throw new Error('must be an array of strings and RegExps or a function');
  const matchers = option.map(compileEntry);
  return safe((url) => matchers.some((match) => match(url)));
}

/**
 * Compiles `RACEWAY_PROPAGATE_TO` (spec 6.2): comma-separated host patterns (`*`, `*.suffix`,
 * CIDR ranges, addresses, hostnames, with an optional `:port`). Undefined when unset or empty
 * (the default applies). Throws `Error` naming a bad entry.
 *
 * @example
 * compilePropagateToList('*.corp.example, 10.0.0.0/8')?.(new URL('http://10.1.1.1/')); // true
 */
export function compilePropagateToList(text: string | undefined): UrlMatcher | undefined {
  const entries = splitPropagateToList(text);
  if (entries === undefined) return undefined;
  const matchers = entries.map((entry) => compileHostPattern(entry));
  return safe((url) => matchers.some((match) => match(url)));
}

function compileEntry(entry: unknown, index: number): UrlMatcher {
  if (entry instanceof RegExp) {
    return (url) => {
      // A /g or /y RegExp keeps state between calls; reset it so every URL gets a fresh test.
      entry.lastIndex = 0;
      return entry.test(url.href);
    };
  }
  if (typeof entry !== 'string' || entry.trim() === '' || /\s/.test(entry)) {
    throw new Error(`entry ${index} must be a non-empty hostname, origin or RegExp`);
  }
  const pattern = entry.toLowerCase();
  if (pattern.includes('://')) {
    let origin: string;
    try {
      origin = new URL(pattern).origin;
    } catch {
      throw new Error(`entry ${index} (${entry}) is not a valid origin`);
    }
    return (url) => url.origin === origin;
  }
  try {
    return compileHostPattern(entry);
  } catch (error) {
    throw new Error(`entry ${index}: ${(error as Error).message}`);
  }
}

function safe(match: UrlMatcher): UrlMatcher {
  return (url) => {
    try {
      return match(url) === true;
    } catch {
      // A user predicate that throws must not break the outgoing call: no headers, no error.
      return false;
    }
  };
}

/** Paths the server adapters do not trace by default (health checks, browser noise). */
export const DEFAULT_IGNORE_PATHS: readonly string[] = ['/healthz', '/health', '/favicon.ico'];

/**
 * Compiles `ignorePaths` into a predicate over a request path (query string allowed). A string
 * matches the path exactly or as a whole-segment prefix (`/health` ignores `/health/live`, not
 * `/healthcheck`); a RegExp is tested against the path without its query string.
 */
export function compileIgnorePaths(
  option: ReadonlyArray<string | RegExp> | undefined,
): (path: string) => boolean {
  const entries = option ?? DEFAULT_IGNORE_PATHS;
  if (!Array.isArray(entries)) throw new Error('must be an array of path strings and RegExps');
  const matchers = entries.map((entry, index): ((path: string) => boolean) => {
    if (entry instanceof RegExp) {
      return (path) => {
        entry.lastIndex = 0;
        return entry.test(path);
      };
    }
    if (typeof entry !== 'string' || !entry.startsWith('/')) {
      throw new Error(`entry ${index} must be a path starting with "/" or a RegExp`);
    }
    const prefix = entry.endsWith('/') ? entry : `${entry}/`;
    return (path) => path === entry || path.startsWith(prefix);
  });
  return (path) => {
    if (typeof path !== 'string') return false;
    const cut = path.search(/[?#]/);
    const bare = cut === -1 ? path : path.slice(0, cut);
    return matchers.some((match) => match(bare));
  };
}
