/** Which outgoing URLs receive trace headers: a list of host patterns, or a predicate. */
export type PropagateToOption = Array<string | RegExp> | ((url: URL) => boolean);

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The default `propagateTo` rule: true for hosts that are almost certainly part of the same
 * system, false for third-party hosts, which should not learn trace ids or clocks.
 *
 * Internal means: loopback (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`), single-label
 * hostnames (service names such as `inventory`, as in Docker or Kubernetes), `*.local`,
 * `*.internal`, `*.svc.cluster.local`, and the private IPv4 ranges 10.0.0.0/8, 172.16.0.0/12
 * and 192.168.0.0/16.
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
  const host = hostnameOf(url);
  if (host === '') return false;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1') return true;
  const v4 = IPV4.exec(host);
  if (v4) return isPrivateIpv4(Number(v4[1]), Number(v4[2]));
  // Any other IPv6 literal is treated as public: nothing in the address says otherwise.
  if (host.includes(':')) return false;
  if (!host.includes('.')) return true;
  return host.endsWith('.local') || host.endsWith('.internal');
}

function isPrivateIpv4(a: number, b: number): boolean {
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/** `url.hostname` lowercased, without IPv6 brackets and without a trailing root dot. */
function hostnameOf(url: URL): string {
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

type UrlMatcher = (url: URL) => boolean;

/**
 * Compiles a `propagateTo` option into a predicate. Throws `Error` with a message naming the bad
 * entry (the config layer wraps it into a coded error); the predicate itself never throws.
 *
 * Entries: a hostname (`api.internal`), `host:port`, a wildcard (`*.example.com`, subdomains
 * only), an origin (`https://api.example.com`), or a RegExp tested against the full URL.
 */
export function compilePropagateTo(option: PropagateToOption | undefined): UrlMatcher {
  if (option === undefined) return safe(defaultPropagateTo);
  if (typeof option === 'function') return safe(option);
  if (!Array.isArray(option))
    throw new Error('must be an array of strings and RegExps or a function');
  const matchers = option.map(compileEntry);
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
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return (url) => hostnameOf(url).endsWith(suffix);
  }
  return (url) => hostnameOf(url) === pattern || url.host.toLowerCase() === pattern;
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
