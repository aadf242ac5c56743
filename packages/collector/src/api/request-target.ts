// What a request target means to whoever reads it most generously. Access control must not
// depend on which of the router, a reverse proxy or the UI's file server decodes a target, nor
// on how: so it asks whether *any* reading of the target names a protected path, and refuses
// when one does (deny by default).

/** Longest run of percent-decoding applied: `%2561` -> `%61` -> `a` and so on. */
const MAX_DECODES = 4;

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i;

/** A request target split into the authority (absolute-form only) and the path. */
export interface RequestTarget {
  /** `host[:port]` of an absolute-form target (`GET http://host/path`), else null. */
  authority: string | null;
  /** The path as sent, without query or fragment. */
  rawPath: string;
  /** The path after every decoding and normalisation below. */
  path: string;
}

/** Decodes `%xx` escapes until nothing changes; malformed escapes are left as they are. */
function decodeRepeatedly(text: string): string {
  let current = text;
  for (let i = 0; i < MAX_DECODES; i++) {
    const next = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
    if (next === current) break;
    current = next;
  }
  return current;
}

/**
 * The canonical path of a decoded path: backslashes read as slashes, `;` parameters dropped,
 * empty and `.` segments dropped, `..` resolved, trailing dots and whitespace of a segment
 * dropped, lower case. `/x/../API;v=1//traces.` -> `/api/traces`.
 */
function normalisePath(decoded: string): string {
  const segments: string[] = [];
  for (const raw of decoded.replace(/\\/g, '/').split('/')) {
    const segment = raw
      .replace(/;.*$/s, '')
      .replace(/[\s.\0]+$/, '')
      .toLowerCase();
    if (raw.replace(/;.*$/s, '') === '..') segments.pop();
    else if (segment !== '') segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/**
 * Parses a request target (`request.url`): origin-form (`/path?query`) or absolute-form
 * (`http://host/path`). Null for any other form (`*`, `host:port`, a relative path): the
 * collector serves no such target.
 *
 * @example
 * parseRequestTarget('/%61pi/traces?limit=1').path; // '/api/traces'
 * parseRequestTarget('http://127.0.0.1:8080/api//traces').authority; // '127.0.0.1:8080'
 */
export function parseRequestTarget(target: string): RequestTarget | null {
  let authority: string | null = null;
  let rest = target;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute) {
    authority = absolute[1] ?? '';
    rest = target.slice(absolute[0].length) || '/';
  }
  if (!rest.startsWith('/')) return null;
  const rawPath = rest.replace(/[?#].*$/s, '');
  return { authority, rawPath, path: normalisePath(decodeRepeatedly(rawPath)) };
}

/** Whether a canonical path is the query API's (`/api` and below). */
export function isApiPath(canonicalPath: string): boolean {
  return canonicalPath === '/api' || canonicalPath.startsWith('/api/');
}

/** Whether a canonical path belongs to the collector's machine interfaces (API, ingest, health). */
export function isServicePath(canonicalPath: string): boolean {
  return (
    isApiPath(canonicalPath) ||
    canonicalPath === '/v1' ||
    canonicalPath.startsWith('/v1/') ||
    canonicalPath === '/healthz'
  );
}
