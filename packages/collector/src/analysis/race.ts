import type { Access } from './accesses.js';

/** write-write, read-write, or a lost update (both read, then both wrote). */
export type RaceKind = 'write_write' | 'read_write' | 'lost_update';

/**
 * What makes a race believable: `clock` (intra-trace: vector clocks prove the accesses are
 * concurrent), `same_version` / `same_value` (cross-trace: both read the same version or value)
 * or `timing` (cross-trace: the read-modify-write windows overlap beyond the skew tolerance).
 */
export type RaceEvidence = 'clock' | 'same_version' | 'same_value' | 'timing';

/**
 * What the recorded values say of a lost-update interleaving (two read-modify-writes that
 * nothing orders): `lost` when both read the same value or version and both wrote (an update
 * was lost, observed); `not_lost` when one side read what the other wrote (it could have been
 * lost, this time it was not); `unknown` when the values recorded cannot tell. Values outrank
 * timing: overlapping timestamps never make a `not_lost` race `lost`.
 */
export type RaceOutcome = 'lost' | 'not_lost' | 'unknown';

/** One access a race involves, with what a developer needs to find it. */
export interface RaceAccess {
  eventId: string;
  traceId: string;
  kind: 'state_read' | 'state_write';
  service: string;
  instance: string;
  component: string;
  spanId: string;
  /** Method and route template of the server span the access ran in, when known. */
  route?: string | null;
  tsUs: number;
  clock: Record<string, number>;
  clockDropped?: number;
  value?: unknown;
  version?: string | number;
  atomic: boolean;
  /** Locks its context held at the access. */
  locks: string[];
}

/**
 * A race on one resource.
 *
 * `accesses` holds two events for write-write and read-write races (in time order), and four
 * for a lost update: `[read A, write A, read B, write B]`.
 */
export interface Race {
  /** Stable id derived from the kind, the resource and the events. */
  id: string;
  kind: RaceKind;
  /** `trace`: two contexts of one trace (vector clocks); `cross_trace`: two requests. */
  scope: 'trace' | 'cross_trace';
  resource: string;
  /**
   * `uncertain` when a truncated clock may hide the order (intra-trace), or when only the
   * values and timestamps within the skew tolerance suggest the interleaving (cross-trace).
   */
  confidence: 'certain' | 'uncertain';
  evidence: RaceEvidence;
  accesses: RaceAccess[];
  /** The services involved, in the order of `accesses`, without repeats. */
  services: string[];
  traceIds: string[];
  /** Cross-trace only: how long the two read-modify-write windows overlap, in ms. */
  overlapMs?: number;
  /** Lost updates only: whether the values show an update was lost (see RaceOutcome). */
  outcome?: RaceOutcome;
  /** One line a developer understands. */
  explanation: string;
}

/** The evidence an access carries, as a race reports it. */
export function raceAccess(access: Access): RaceAccess {
  const e = access.event;
  const out: RaceAccess = {
    eventId: e.id,
    traceId: e.trace_id,
    kind: access.write ? 'state_write' : 'state_read',
    service: e.service,
    instance: e.instance,
    component: e.component,
    spanId: e.span_id,
    tsUs: e.ts_us,
    clock: e.clock,
    atomic: access.atomic,
    locks: [...access.locks],
  };
  if (e.clock_dropped !== undefined) out.clockDropped = e.clock_dropped;
  if (access.sql !== undefined) {
    // A database access: the digest it read or wrote (DESIGN 11).
    if (access.sql.value !== undefined) out.value = access.sql.value;
    return out;
  }
  if ('value' in e.data) out.value = e.data.value;
  const version = e.data.version;
  if (typeof version === 'string' || typeof version === 'number') out.version = version;
  return out;
}

/** Distinct values of `pick` over the accesses, in order. */
export function distinct(
  accesses: readonly RaceAccess[],
  pick: (a: RaceAccess) => string,
): string[] {
  // Most races have two accesses: a literal of the right length, where a Set and its spread
  // would allocate three objects per list (two lists per race).
  if (accesses.length === 2) {
    const first = pick(accesses[0]!);
    const second = pick(accesses[1]!);
    return first === second ? [first] : [first, second];
  }
  return [...new Set(accesses.map(pick))];
}

/**
 * A short stable id (53-bit hash as 14 hex digits) for a race: the same events always give the
 * same id, so analysing a trace again replaces its races instead of adding copies.
 */
export function raceId(
  scope: string,
  kind: string,
  resource: string,
  eventIds: readonly string[],
): string {
  const hash: Hash53 = { h1: 0xdeadbeef, h2: 0x41c6ce57 };
  mix(hash, scope);
  mix(hash, kind);
  mix(hash, resource);
  if (eventIds.length === 2) {
    // Two ids (most races): in order without sorting a copy.
    const [x, y] = eventIds as [string, string];
    const swap = y < x;
    mix(hash, swap ? y : x);
    mix(hash, swap ? x : y);
  } else {
    const sorted = eventIds.slice().sort();
    for (let i = 0; i < sorted.length; i++) mix(hash, sorted[i]!);
  }
  let { h1, h2 } = hash;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  // The 53-bit hash 2^32 * high + low as 14 hex digits (6 for the 21 high bits, 8 for the low
  // 32), written in one flat string: a race id per race found, kept as long as the race.
  return hexDigits(2097151 & h2, h1 >>> 0);
}

/** The two halves of the running 53-bit hash of {@link raceId}. */
interface Hash53 {
  h1: number;
  h2: number;
}

/** Mixes `text`, then a separator, into the running hash. */
function mix(hash: Hash53, text: string): void {
  let { h1, h2 } = hash;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  // A separator no id or name contains, so ('ab', 'c') and ('a', 'bc') differ.
  hash.h1 = Math.imul(h1 ^ 0xffff, 2654435761);
  hash.h2 = Math.imul(h2 ^ 0xffff, 1597334677);
}

/** Character codes of the hex digits. */
const HEX = Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));

/** The hex digit of `n` at bit `shift`, as a character code. */
const hexDigitAt = (n: number, shift: number): number => HEX[(n >>> shift) & 15]!;

/** `high` (< 2^24) as 6 hex digits followed by `low` (< 2^32) as 8, zero-padded. */
function hexDigits(high: number, low: number): string {
  return String.fromCharCode(
    hexDigitAt(high, 20),
    hexDigitAt(high, 16),
    hexDigitAt(high, 12),
    hexDigitAt(high, 8),
    hexDigitAt(high, 4),
    hexDigitAt(high, 0),
    hexDigitAt(low, 28),
    hexDigitAt(low, 24),
    hexDigitAt(low, 20),
    hexDigitAt(low, 16),
    hexDigitAt(low, 12),
    hexDigitAt(low, 8),
    hexDigitAt(low, 4),
    hexDigitAt(low, 0),
  );
}

/**
 * A template literal's text as one flat string. A plain template literal (or `+`) of longer
 * pieces builds a tree of cons strings, more than twice the memory of the text; explanations
 * are kept as long as their races (10^5 of them on a large trace), and joining writes the text
 * once, for less than the tree costs to build.
 *
 * @example
 * flat`${name} wrote ${resource}`; // 'order wrote stock:42'
 */
export function flat(strings: TemplateStringsArray, ...values: string[]): string {
  const parts = [strings[0]!];
  for (let i = 0; i < values.length; i++) parts.push(values[i]!, strings[i + 1]!);
  return parts.join('');
}

/** A value as an explanation shows it: JSON, cut to 40 characters. */
export function showValue(value: unknown): string {
  // A finite number reads the same as its JSON, without the serialiser's cost (two per race).
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** What an access saw or wrote, as ` = 5` or ` (version 7)`, or '' when it recorded neither. */
export function seen(access: RaceAccess): string {
  if ('value' in access) return ` = ${showValue(access.value)}`;
  if (access.version !== undefined) return ` (version ${showValue(access.version)})`;
  return '';
}

/**
 * How explanations name the two sides: by service, or by context when both sides are the same
 * service (two concurrent handlers of one service).
 */
export function sideNames(a: RaceAccess, b: RaceAccess): [string, string] {
  if (a.service !== b.service) return [a.service, b.service];
  if (a.traceId !== b.traceId)
    return [
      `${a.service} (trace ${a.traceId.slice(0, 8)})`,
      `${b.service} (trace ${b.traceId.slice(0, 8)})`,
    ];
  return [a.component, b.component];
}

/** Whether two accesses recorded the same value (compared as JSON). */
export function sameValue(a: RaceAccess, b: RaceAccess): boolean {
  if (!('value' in a) || !('value' in b)) return false;
  try {
    return JSON.stringify(a.value) === JSON.stringify(b.value);
  } catch {
    return false;
  }
}

/** Whether two accesses recorded the same version. */
function sameVersion(a: RaceAccess, b: RaceAccess): boolean {
  return a.version !== undefined && a.version === b.version;
}

/**
 * The verdict of a lost-update interleaving `[read A, write A, read B, write B]` from its
 * values, and the clause that says why, for the explanation. Versions outrank values.
 *
 * @example
 * lostUpdateVerdict([readA, writeA, readB, writeB], ['order', 'inventory'], 'stock:mug');
 * // { outcome: 'not_lost', why: 'inventory read stock:mug = 9985, the value order wrote' }
 */
export function lostUpdateVerdict(
  accesses: readonly RaceAccess[],
  [nameA, nameB]: readonly [string, string],
  resource: string,
): { outcome: RaceOutcome; why: string } {
  const [readA, writeA, readB, writeB] = accesses as [
    RaceAccess,
    RaceAccess,
    RaceAccess,
    RaceAccess,
  ];
  if (sameVersion(readA, readB)) {
    return {
      outcome: 'lost',
      why: `${nameA} and ${nameB} both read ${resource} at version ${showValue(readA.version)}`,
    };
  }
  const bSawA =
    sameVersion(readB, writeA) || (!sameVersion(readA, writeB) && sameValue(readB, writeA));
  if (sameVersion(readB, writeA) || sameVersion(readA, writeB)) {
    const [reader, writer, read] = bSawA ? [nameB, nameA, readB] : [nameA, nameB, readA];
    return {
      outcome: 'not_lost',
      why: `${reader} read ${resource} at version ${showValue(read.version)}, the one ${writer} wrote`,
    };
  }
  if (sameValue(readA, readB)) {
    return { outcome: 'lost', why: `${nameA} and ${nameB} both read ${resource}${seen(readA)}` };
  }
  if (sameValue(readB, writeA) || sameValue(readA, writeB)) {
    const [reader, writer, read] = bSawA ? [nameB, nameA, readB] : [nameA, nameB, readA];
    return {
      outcome: 'not_lost',
      why: `${reader} read ${resource}${seen(read)}, the value ${writer} wrote`,
    };
  }
  return { outcome: 'unknown', why: '' };
}

/** What an access saw or wrote, as `5` or `version 7`, or null when it recorded neither. */
function shown(access: RaceAccess): string | null {
  if ('value' in access) return showValue(access.value);
  if (access.version !== undefined) return `version ${showValue(access.version)}`;
  return null;
}

/** ` (order wrote 4, inventory wrote 4)`, or '' when neither access recorded what it saw. */
function bothShown(
  nameA: string,
  a: RaceAccess,
  nameB: string,
  b: RaceAccess,
  verb: string,
): string {
  const [x, y] = [shown(a), shown(b)];
  if (x === null && y === null) return '';
  return ` (${nameA} ${verb} ${x ?? 'an unrecorded value'}, ${nameB} ${verb} ${y ?? 'an unrecorded value'})`;
}

/**
 * The explanation of a lost-update interleaving, worded by its verdict: an observed loss, a
 * race that did no harm this time, or one the values cannot settle. `how` says why nothing
 * orders them (concurrent clocks, overlapping windows); `suffix` ends the explanation (a
 * reason for doubt, or '').
 */
export function explainLostUpdate(
  accesses: readonly RaceAccess[],
  names: readonly [string, string],
  resource: string,
  how: string,
  suffix = '',
): { outcome: RaceOutcome; explanation: string } {
  const [readA, writeA, readB, writeB] = accesses as [
    RaceAccess,
    RaceAccess,
    RaceAccess,
    RaceAccess,
  ];
  const [nameA, nameB] = names;
  const { outcome, why } = lostUpdateVerdict(accesses, names, resource);
  const writes = bothShown(nameA, writeA, nameB, writeB, 'wrote');
  switch (outcome) {
    case 'lost':
      return {
        outcome,
        explanation: flat`${why} and both wrote it back ${how}: one update is lost${writes}${suffix}`,
      };
    case 'not_lost':
      return {
        outcome,
        explanation: flat`${nameA} and ${nameB} read-modify-wrote ${resource} ${how}, so an update can be lost; this time none was: ${why}${writes}${suffix}`,
      };
    default: {
      const reads = bothShown(nameA, readA, nameB, readB, 'read');
      return {
        outcome,
        explanation: flat`${nameA} and ${nameB} read ${resource} and wrote it back ${how}: an update can be lost; the values recorded do not tell whether one was${reads}${suffix}`,
      };
    }
  }
}
