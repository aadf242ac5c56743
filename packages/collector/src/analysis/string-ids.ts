/**
 * Slots a lookup probes before it turns to the fallback map (see {@link StringIds}). With the
 * table at most half full, random hashes need far fewer: 31 at most over 10^6 keys.
 */
const MAX_PROBES = 64;
const INITIAL_CAPACITY = 1 << 10;

/**
 * Small numbers for strings (0, 1, 2, ... in order of first use), for the passes that number
 * 10^5-10^6 distinct names of a large input (the components of the requests across traces).
 *
 * Why not a `Map<string, number>`: on a large heap each map lookup costs a cache miss per key
 * its bucket holds (V8 reads each candidate key's header to compare it), and the keys lie
 * scattered over the heap. This table keeps each slot's hash next to its number in one typed
 * array, so a lookup reads one slot and compares strings only on a full hash match.
 *
 * Hash flooding: the hash is seeded per table from `crypto.getRandomValues`, so names cannot be
 * crafted to collide without the seed; and a lookup probes at most {@link MAX_PROBES} slots
 * before it falls back to a `Map` (V8's own seeded string hashing), so even names that collide
 * whatever the seed cost a bounded number of comparisons each, never a quadratic total.
 *
 * @example
 * const ids = new StringIds();
 * ids.idOf('a'); // 0
 * ids.idOf('b'); // 1
 * ids.find('a'); // 0
 * ids.find('c'); // -1
 */
export class StringIds {
  /** Per slot: the key's hash, then its id + 1 (0: empty slot). */
  private slots = new Int32Array(INITIAL_CAPACITY * 2);
  private mask = INITIAL_CAPACITY - 1;
  private readonly keys: string[] = [];
  /** Keys that found no free slot within {@link MAX_PROBES}. */
  private readonly overflow = new Map<string, number>();
  private readonly seed = globalThis.crypto.getRandomValues(new Int32Array(1))[0]!;

  /** @param hashOf A hash in place of the seeded one (to make keys collide in tests). */
  constructor(private readonly hashOf?: (key: string) => number) {}

  /** How many strings have an id. */
  get size(): number {
    return this.keys.length;
  }

  /** The string's id, given on first use. */
  idOf(key: string): number {
    const hash = this.hash(key);
    const free = this.probe(key, hash);
    if (free < 0) return -free - 1;
    if (free === NO_SLOT || this.overflow.size > 0) {
      // A key filed in the overflow may have a free slot in reach since the table grew.
      const known = this.overflow.get(key);
      if (known !== undefined) return known;
    }
    const id = this.keys.length;
    this.keys.push(key);
    if (free === NO_SLOT) this.overflow.set(key, id);
    else this.fill(free, hash, id);
    if (this.keys.length * 2 > this.mask + 1) this.grow();
    return id;
  }

  /** The string's id, or -1 when it has none. */
  find(key: string): number {
    const found = this.probe(key, this.hash(key));
    if (found < 0) return -found - 1;
    return this.overflow.size > 0 ? (this.overflow.get(key) ?? -1) : -1;
  }

  /**
   * `-(id + 1)` when the key is in the table; else the first free slot in reach, or
   * {@link NO_SLOT} when the probes ran out.
   */
  private probe(key: string, hash: number): number {
    const { slots, mask, keys } = this;
    let slot = hash & mask;
    for (let probes = 0; probes < MAX_PROBES; probes++) {
      const idPlusOne = slots[slot * 2 + 1]!;
      if (idPlusOne === 0) return slot;
      if (slots[slot * 2] === hash && keys[idPlusOne - 1] === key) return -idPlusOne;
      slot = (slot + 1) & mask;
    }
    return NO_SLOT;
  }

  private fill(slot: number, hash: number, id: number): void {
    this.slots[slot * 2] = hash;
    this.slots[slot * 2 + 1] = id + 1;
  }

  /** Doubles the table, refiling each key by its stored hash (no key is read again). */
  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let i = 0; i < old.length; i += 2) {
      const idPlusOne = old[i + 1]!;
      if (idPlusOne === 0) continue;
      const hash = old[i]!;
      let slot = hash & this.mask;
      let probes = 0;
      while (this.slots[slot * 2 + 1] !== 0 && probes < MAX_PROBES) {
        slot = (slot + 1) & this.mask;
        probes++;
      }
      if (probes === MAX_PROBES) this.overflow.set(this.keys[idPlusOne - 1]!, idPlusOne - 1);
      else this.fill(slot, hash, idPlusOne - 1);
    }
  }

  /** FNV-1a over the UTF-16 code units from the table's seed, then MurmurHash3's finaliser. */
  private hash(key: string): number {
    if (this.hashOf !== undefined) return this.hashOf(key) | 0;
    let h = this.seed;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }
}

/** `probe`'s answer when no free slot is in reach. */
const NO_SLOT = Number.MAX_SAFE_INTEGER;
