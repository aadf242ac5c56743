import { BlockList, isIPv4, isIPv6 } from 'node:net';

// Host rules of the propagation allow-list (spec 6): which hosts are internal by default, and
// the host patterns of `propagateTo` / `RACEWAY_PROPAGATE_TO`.

/** Address ranges that are loopback, private or internal (spec 6.1). */
const INTERNAL_RANGES: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['10.0.0.0', 8, 'ipv4'], // private
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.168.0.0', 16, 'ipv4'], // private
  ['100.64.0.0', 10, 'ipv4'], // shared address space (carrier-grade NAT, Tailscale)
  ['169.254.0.0', 16, 'ipv4'], // link-local
  ['::1', 128, 'ipv6'], // loopback
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
];

const internalAddresses = new BlockList();
for (const [network, prefix, family] of INTERNAL_RANGES) {
  internalAddresses.addSubnet(network, prefix, family);
}

/** Name suffixes of internal hosts (spec 6.1); `*.svc.cluster.local` ends in `.local`. */
const INTERNAL_SUFFIXES = ['.localhost', '.local', '.internal', '.svc'];

/**
 * A URL's host as the allow-list compares it: lowercased, without IPv6 brackets and without a
 * trailing root dot.
 */
export function normalizedHost(url: URL): string {
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** `'ipv4'`, `'ipv6'` or null for a name. */
function addressFamily(host: string): 'ipv4' | 'ipv6' | null {
  if (isIPv4(host)) return 'ipv4';
  if (isIPv6(host)) return 'ipv6';
  return null;
}

/**
 * True for a host that is almost certainly part of the same system (spec 6.1): an address in a
 * loopback, private, shared or link-local range (IPv4-mapped IPv6 addresses by their IPv4
 * address), `localhost`, a single-label name (`inventory`, as Docker and Kubernetes name
 * services), or a name ending in `.localhost`, `.local`, `.internal` or `.svc`.
 *
 * @example
 * isInternalHost('10.1.2.3'); // true
 * isInternalHost('api.stripe.com'); // false
 */
export function isInternalHost(host: string): boolean {
  if (host === '') return false;
  const family = addressFamily(host);
  if (family !== null) return internalAddresses.check(host, family);
  if (host === 'localhost' || !host.includes('.')) return true;
  return INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** A compiled host pattern: true when a URL's host (and port) matches. */
export type HostMatcher = (url: URL) => boolean;

const CIDR = /^(.+)\/(\d{1,3})$/;
const NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const BRACKETED_WITH_PORT = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/;
const NAME_OR_V4_WITH_PORT = /^([^:]+):(\d{1,5})$/;

/**
 * Compiles one host pattern of the allow-list (spec 6.2): `*` (every host), `*.suffix`
 * (subdomains of suffix), a CIDR range (`10.0.0.0/8`, `fd00::/8`), an address, a hostname, or
 * either with a port (`api.internal:8443`, `[::1]:8080`). Throws `Error` with a message naming
 * the entry when it is none of these; the matcher never throws.
 *
 * @example
 * compileHostPattern('10.0.0.0/8')(new URL('http://10.9.8.7/')); // true
 */
export function compileHostPattern(entry: string): HostMatcher {
  const pattern = entry.trim().toLowerCase();
  if (pattern === '*') return () => true;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    if (!NAME.test(suffix.slice(1)))
      throw new Error(`${JSON.stringify(entry)} is not a valid wildcard`);
    return (url) => normalizedHost(url).endsWith(suffix);
  }
  const cidr = CIDR.exec(pattern);
  if (cidr !== null) {
    const network = cidr[1]!;
    const prefix = Number(cidr[2]);
    const family = addressFamily(network);
    if (family === null || prefix > (family === 'ipv4' ? 32 : 128)) {
      throw new Error(`${JSON.stringify(entry)} is not a valid CIDR range`);
    }
    const range = new BlockList();
    range.addSubnet(network, prefix, family);
    return (url) => {
      const host = normalizedHost(url);
      const hostFamily = addressFamily(host);
      return hostFamily !== null && range.check(host, hostFamily);
    };
  }
  const bracketed = BRACKETED_WITH_PORT.exec(pattern);
  if (bracketed !== null) {
    if (!isIPv6(bracketed[1]!) || Number(bracketed[2] ?? 0) > 65535) {
      throw new Error(`${JSON.stringify(entry)} is not a valid address`);
    }
    return addressMatcher(bracketed[1]!, bracketed[2]);
  }
  if (addressFamily(pattern) !== null) return addressMatcher(pattern, undefined);
  const withPort = NAME_OR_V4_WITH_PORT.exec(pattern);
  const name = withPort === null ? pattern : withPort[1]!;
  const port = withPort === null ? undefined : withPort[2];
  if (port !== undefined && Number(port) > 65535) {
    throw new Error(`${JSON.stringify(entry)} has a port above 65535`);
  }
  if (addressFamily(name) === 'ipv4') return addressMatcher(name, port);
  if (!NAME.test(name)) throw new Error(`${JSON.stringify(entry)} is not a valid host`);
  return (url) => normalizedHost(url) === name && portMatches(url, port);
}

function addressMatcher(address: string, port: string | undefined): HostMatcher {
  // One canonical spelling of the address (`::0:1` and `::1` are the same host).
  const family = addressFamily(address)!;
  const single = new BlockList();
  single.addAddress(address, family);
  return (url) => {
    const host = normalizedHost(url);
    return addressFamily(host) === family && single.check(host, family) && portMatches(url, port);
  };
}

/** With a port given, the URL's port (its scheme's default when absent) must equal it. */
function portMatches(url: URL, port: string | undefined): boolean {
  if (port === undefined) return true;
  return Number(effectivePort(url)) === Number(port);
}

function effectivePort(url: URL): string {
  if (url.port !== '') return url.port;
  if (url.protocol === 'https:' || url.protocol === 'wss:') return '443';
  if (url.protocol === 'http:' || url.protocol === 'ws:') return '80';
  return '';
}

/**
 * Splits `RACEWAY_PROPAGATE_TO` (spec 6.2) into its entries: comma-separated, each trimmed of
 * spaces and tabs, empty entries dropped. Undefined when unset or empty (the default applies).
 */
export function splitPropagateToList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const entries = text
    .split(',')
    .map((entry) => entry.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((entry) => entry !== '');
  return entries.length === 0 ? undefined : entries;
}
