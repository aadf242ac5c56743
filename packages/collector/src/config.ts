import { isAbsolute, resolve } from 'node:path';
import { RacewayConfigError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `7d`, `12h`, `30m`, `45s`, `500ms` or `2w` into milliseconds.
 *
 * @example
 * parseDuration('7d'); // 604800000
 */
export function parseDuration(text: string, what = 'duration'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (!match) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_DURATION',
      `${what} "${text}" is not a duration: write a number and a unit, e.g. 7d, 12h, 30m, 45s or 500ms`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  if (!(ms > 0)) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_DURATION',
      `${what} "${text}" must be above zero`,
    );
  }
  return ms;
}

/** Where the collector keeps its data. */
export type StorageLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Parses `sqlite:<path>` (relative paths resolve against `cwd`; `sqlite::memory:` keeps
 * everything in memory) or a `postgres://` / `postgresql://` URL.
 *
 * @example
 * parseStorage('sqlite:./raceway.db', '/srv'); // { kind: 'sqlite', path: '/srv/raceway.db' }
 */
export function parseStorage(text: string, cwd = process.cwd()): StorageLocation {
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length);
    if (path === '') {
      throw new RacewayConfigError(
        'RACEWAY_INVALID_STORAGE',
        'storage "sqlite:" names no file: write sqlite:<path>, e.g. sqlite:./raceway.db',
      );
    }
    if (path === ':memory:') return { kind: 'sqlite', path };
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (/^postgres(ql)?:\/\//.test(text)) {
    let host = '';
    try {
      host = new URL(text).hostname;
    } catch {
      // reported below
    }
    if (host === '') {
      throw new RacewayConfigError(
        'RACEWAY_INVALID_STORAGE',
        `storage "${redactUrl(text)}" is not a valid PostgreSQL URL (postgres://user:password@host:5432/database)`,
      );
    }
    return { kind: 'postgres', url: text };
  }
  throw new RacewayConfigError(
    'RACEWAY_INVALID_STORAGE',
    `storage "${redactUrl(text)}" is not supported: use sqlite:<path> or postgres://user:password@host:5432/database`,
  );
}

/** A URL with its password replaced by `***`, fit for logs and start-up lines. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return text.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

/** Describes a storage location for people: the absolute file, or the URL without password. */
export function describeStorage(location: StorageLocation): string {
  return location.kind === 'sqlite'
    ? `SQLite ${location.path === ':memory:' ? '(in memory, lost on exit)' : location.path}`
    : `PostgreSQL ${redactUrl(location.url)}`;
}

/** Parses a TCP port (0 asks the OS for a free one). */
export function parsePort(text: string | number): number {
  const port = typeof text === 'number' ? text : Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_PORT',
      `port "${text}" is not a TCP port: use an integer from 0 to 65535 (0 picks a free port)`,
    );
  }
  return port;
}

/** Parses a non-negative number of milliseconds given as a plain integer. */
export function parseMillis(text: string | number, what: string): number {
  const value = typeof text === 'number' ? text : Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_OPTION',
      `${what} "${text}" must be a number of milliseconds, 0 or more`,
    );
  }
  return value;
}

/**
 * The OTLP export endpoint and its headers (`key=value` items, as OTEL_EXPORTER_OTLP_HEADERS
 * writes them, values percent-decoded), or undefined when no endpoint is given; with the
 * collector's public URL (`--public-url`), which exported races link to, when given.
 *
 * @example
 * parseOtlpExport('http://tempo:4318/v1/traces', ['authorization=Bearer%20abc']);
 * // { endpoint: 'http://tempo:4318/v1/traces', headers: { authorization: 'Bearer abc' } }
 */
export function parseOtlpExport(
  endpoint: string | undefined,
  headers: string[],
  publicUrl?: string,
): { endpoint: string; headers: Record<string, string>; uiUrl?: string } | undefined {
  if (endpoint === undefined || endpoint === '') return undefined;
  const url = httpUrl(endpoint);
  if (url === null) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_OPTION',
      `OTLP export endpoint "${redactUrl(endpoint)}" is not an http(s) URL: give the full traces URL, e.g. http://localhost:4318/v1/traces`,
    );
  }
  const ui = publicUrl ? httpUrl(publicUrl) : undefined;
  if (ui === null) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_OPTION',
      `public URL "${redactUrl(publicUrl!)}" is not an http(s) URL: give the address people open the collector at, e.g. https://raceway.example.com`,
    );
  }
  const parsed: Record<string, string> = {};
  for (const item of headers) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq).trim().toLowerCase();
    if (eq <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key)) {
      throw new RacewayConfigError(
        'RACEWAY_INVALID_OPTION',
        `OTLP export header "${item.slice(0, 40)}" is not key=value`,
      );
    }
    parsed[key] = decodeURIComponent(item.slice(eq + 1).trim());
  }
  return { endpoint: url.href, headers: parsed, ...(ui ? { uiUrl: ui.href } : {}) };
}

function httpUrl(text: string): URL | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}
