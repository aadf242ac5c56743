import { trimOws } from './carrier.js';

/** Most list members a `tracestate` may have (W3C). */
export const MAX_TRACESTATE_MEMBERS = 32;
/** Longest normalised `tracestate` passed on, in characters (spec 2.3). */
export const MAX_TRACESTATE_LENGTH = 512;

// W3C Trace Context level 2: a lowercase letter or a digit, then up to 255 of the key
// characters, `@` among them (level 1's tenant@system split is no longer enforced).
const KEY = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/;
// 1..256 printable ASCII characters except `,` and `=`, the last one not a space.
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** Result of {@link parseTracestate}: the normalised value (null when empty) or invalid. */
export type ParsedTracestate = { ok: true; value: string | null } | { ok: false };

const INVALID: ParsedTracestate = { ok: false };
const EMPTY: ParsedTracestate = { ok: true, value: null };

/**
 * Validates and normalises `tracestate` (spec 2.3): copies are joined with `,`, members are
 * trimmed, empty members dropped, a member whose key appeared earlier dropped (the first one
 * is kept), members joined with `,`. More than 32 members, more than 512 characters after
 * normalising or an invalid member make the whole value invalid. Never throws.
 *
 * @example
 * parseTracestate(['rojo=00f067aa0ba902b7 ', ' congo=t61rcWkgMzE']);
 * // { ok: true, value: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' }
 * parseTracestate('rojo=1,rojo=2'); // { ok: true, value: 'rojo=1' }
 * parseTracestate('Rojo=1'); // { ok: false }
 */
export function parseTracestate(value: string | readonly string[]): ParsedTracestate {
  const joined = typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : '';
  if (typeof joined !== 'string' || joined === '') return EMPTY;
  const members: string[] = [];
  const keys = new Set<string>();
  let length = 0;
  for (const part of joined.split(',')) {
    const member = trimOws(part);
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq < 0) return INVALID;
    const key = member.slice(0, eq);
    if (!KEY.test(key) || !VALUE.test(member.slice(eq + 1))) return INVALID;
    // A repeated key is a vendor's mistake upstream: keep its first (most recent) member
    // rather than lose every vendor's state.
    if (keys.has(key)) continue;
    keys.add(key);
    length += (members.length > 0 ? 1 : 0) + member.length;
    if (members.length === MAX_TRACESTATE_MEMBERS || length > MAX_TRACESTATE_LENGTH) {
      return INVALID;
    }
    members.push(member);
  }
  return members.length === 0 ? EMPTY : { ok: true, value: members.join(',') };
}
