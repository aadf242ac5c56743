/** A clock as a plain object: component name to counter (absent components are 0). */
export type ClockEntries = Readonly<Record<string, number>>;

/** How two clocks relate (spec 3.5). */
export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent';

/** The largest counter a clock may hold: 2^53-1, exact in every language's JSON. */
export const MAX_CLOCK_COUNTER = Number.MAX_SAFE_INTEGER;

/** Longest component name (spec 3.1). */
const MAX_KEY_LENGTH = 64;

/**
 * 1 for the characters a component name may use (spec 3.1), by char code (ASCII only). Shared
 * with the header decoder; a table lookup per character, because every new execution context
 * checks its component when its clock first counts it.
 */
export const KEY_CHAR = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:#@/+-') {
  KEY_CHAR[ch.charCodeAt(0)] = 1;
}

/**
 * True when `key` may name a clock component on the wire (spec 3.1): 1..64 characters from
 * `[A-Za-z0-9._:#@/+-]`. The reserved `~dropped` marker is not a component.
 *
 * @example
 * isClockKey('checkout#1f3a9c07'); // true
 * isClockKey('~dropped'); // false
 */
export function isClockKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  for (let i = 0; i < key.length; i++) {
    if (KEY_CHAR[key.charCodeAt(i)] !== 1) return false;
  }
  return true;
}

function isCounter(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function checkEntry(key: string, value: number): void {
  if (!isClockKey(key)) {
    throw new RangeError(
      `VectorClock: invalid component ${JSON.stringify(key)} (1..64 characters from [A-Za-z0-9._:#@/+-])`,
    );
  }
  if (!isCounter(value)) {
    throw new RangeError(
      `VectorClock: invalid counter ${String(value)} for ${key} (an integer from 1 to 2^53-1)`,
    );
  }
}

function isIterable(value: object): value is Iterable<readonly [string, number]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

// Set by the class's static block; lets the decoder hand over entries it already validated.
let adopt: (entries: Map<string, number>) => VectorClock;

/**
 * A vector clock: one counter per execution context (component), absent components count as 0.
 *
 * A clock only ever holds entries that can go on the wire (valid component names, counters from
 * 1 to 2^53-1); building one from anything else throws a `RangeError`, because that is a
 * programming error, never wire input (wire input goes through `decodeClock`, which never
 * throws).
 *
 * @example
 * const a = new VectorClock({ 'api#0a1b2c3d': 2 });
 * const b = a.clone().increment('db#99aa00ff');
 * a.compare(b); // 'before'
 * b.merge({ 'api#0a1b2c3d': 5 }).toJSON(); // { 'api#0a1b2c3d': 5, 'db#99aa00ff': 1 }
 */
export class VectorClock {
  #entries: Map<string, number>;
  // Keys in canonical order, kept until a key is added: encoding happens on every outgoing
  // call and every response, while the set of components rarely changes between them.
  #sortedKeys: string[] | null = null;

  static {
    adopt = (entries) => {
      const clock = new VectorClock();
      clock.#entries = entries;
      return clock;
    };
  }

  constructor(entries?: ClockEntries | Iterable<readonly [string, number]>) {
    this.#entries = new Map();
    if (entries == null) return;
    const pairs: Iterable<readonly [string, number]> = isIterable(entries)
      ? entries
      : Object.entries(entries);
    for (const [key, value] of pairs) {
      checkEntry(key, value);
      this.#entries.set(key, value);
    }
  }

  /** Number of components with a counter (>= 1). */
  get size(): number {
    return this.#entries.size;
  }

  /** The counter of `component`, 0 when absent. */
  get(component: string): number {
    return this.#entries.get(component) ?? 0;
  }

  /** Adds one to `component`'s counter (from 0 when absent). Mutates and returns this clock. */
  increment(component: string): this {
    const current = this.#entries.get(component);
    if (current === undefined) {
      checkEntry(component, 1);
      this.#entries.set(component, 1);
      this.#sortedKeys = null;
    } else {
      if (current >= MAX_CLOCK_COUNTER) {
        throw new RangeError(`VectorClock: counter of ${component} would exceed 2^53-1`);
      }
      this.#entries.set(component, current + 1);
    }
    return this;
  }

  /** Element-wise maximum with `other`. Mutates and returns this clock. */
  merge(other: VectorClock | ClockEntries): this {
    for (const [key, value] of VectorClock.#mapOf(other)) {
      const current = this.#entries.get(key);
      if (current === undefined) {
        this.#entries.set(key, value);
        this.#sortedKeys = null;
      } else if (value > current) {
        this.#entries.set(key, value);
      }
    }
    return this;
  }

  /**
   * How this clock relates to `other` (spec 3.5): `before` when every entry is <= and the
   * clocks differ, `after` symmetrically, `equal`, or `concurrent`.
   */
  compare(other: VectorClock | ClockEntries): ClockOrder {
    const theirs = VectorClock.#mapOf(other);
    let less = false;
    let greater = false;
    for (const [key, mine] of this.#entries) {
      const value = theirs.get(key) ?? 0;
      if (mine < value) less = true;
      else if (mine > value) greater = true;
    }
    // An entry only they have is 0 here and >= 1 there.
    if (!less) {
      for (const key of theirs.keys()) {
        if (!this.#entries.has(key)) {
          less = true;
          break;
        }
      }
    }
    if (less) return greater ? 'concurrent' : 'before';
    return greater ? 'after' : 'equal';
  }

  /** True when this clock happened before `other` (strictly). */
  happenedBefore(other: VectorClock | ClockEntries): boolean {
    return this.compare(other) === 'before';
  }

  /** True when neither clock happened before the other and they differ. */
  concurrentWith(other: VectorClock | ClockEntries): boolean {
    return this.compare(other) === 'concurrent';
  }

  /** An independent copy. */
  clone(): VectorClock {
    const copy = new VectorClock();
    // Entries of a clock are already valid: copy without checking them again.
    for (const [key, value] of this.#entries) copy.#entries.set(key, value);
    copy.#sortedKeys = this.#sortedKeys;
    return copy;
  }

  /** The entries, in insertion order. */
  entries(): IterableIterator<[string, number]> {
    return this.#entries.entries();
  }

  /**
   * Iterates the entries, so a clock is also an `Iterable` of pairs: a clock from another copy of
   * this package (ESM and CommonJS loaded side by side) fails `instanceof` but is still read
   * through this, never mistaken for an empty object.
   */
  [Symbol.iterator](): IterableIterator<[string, number]> {
    return this.#entries.entries();
  }

  /** The entries as a plain object with keys in canonical (byte) order. */
  toJSON(): Record<string, number> {
    // Object.fromEntries defines own properties, so even a component named `__proto__`
    // survives (a plain assignment would set the prototype instead).
    const entries = this.#entries;
    return Object.fromEntries(this.sortedKeys().map((key) => [key, entries.get(key) as number]));
  }

  /** The components in canonical (byte) order. The array is shared: do not modify it. */
  sortedKeys(): readonly string[] {
    if (this.#sortedKeys === null) {
      this.#sortedKeys = Array.from(this.#entries.keys()).sort(compareKeys);
    }
    return this.#sortedKeys;
  }

  static #mapOf(other: VectorClock | ClockEntries): ReadonlyMap<string, number> {
    // A plain object is validated: a clock must never take in entries it could not send.
    return other instanceof VectorClock ? other.#entries : new VectorClock(other).#entries;
  }
}

/** Canonical order of clock keys: byte order (keys are ASCII, so UTF-16 order is the same). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Wraps entries the caller has already validated (the decoder) without copying or checking
 * them again. Internal to the clock folder: not exported from the package.
 */
export function adoptValidatedEntries(entries: Map<string, number>): VectorClock {
  return adopt(entries);
}
