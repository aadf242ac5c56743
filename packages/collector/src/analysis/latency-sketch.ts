/** The JSON form of a {@link LatencySketch} (what `toJSON` gives and `fromJSON` takes). */
export interface LatencySketchJSON {
  relativeAccuracy: number;
  maxBuckets: number;
  /** Index of `counts[0]`: bucket i holds values in (gamma^(i-1), gamma^i]. */
  offset: number;
  counts: number[];
  /** Values too small to index (below 1 ns). */
  zeroCount: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
}

/** A bad sketch option or JSON: a configuration error, thrown at construction. */
export class LatencySketchError extends Error {
  readonly code: 'RACEWAY_INVALID_SKETCH';
  constructor(message: string) {
    super(message);
    this.name = 'LatencySketchError';
    this.code = 'RACEWAY_INVALID_SKETCH';
  }
}

/** Smallest latency (ms) that gets a bucket of its own: 1 ns. Smaller ones count as zero. */
const MIN_INDEXABLE_MS = 1e-6;

/**
 * A mergeable latency sketch (DDSketch): values go into logarithmic buckets of ratio
 * gamma = (1 + a) / (1 - a), so any quantile comes back within relative accuracy `a`
 * (default 1%) of a value of the input at that rank, with bounded memory: at most
 * `maxBuckets` buckets (default 2048, about 11 orders of magnitude at 1%); beyond that, the
 * lowest buckets are collapsed, which only affects the smallest values. Two sketches with
 * the same accuracy merge exactly (bucket counts add), so per-edge or per-service sketches can
 * be combined across time windows and collectors.
 *
 * Values are milliseconds. NaN, infinite and negative values are ignored (they come from the
 * wire, where nothing may throw).
 *
 * @example
 * const sketch = new LatencySketch();
 * for (const ms of [12, 15, 11, 250]) sketch.add(ms);
 * sketch.quantile(0.5); // ~12 (within 1%)
 * LatencySketch.fromJSON(JSON.parse(JSON.stringify(sketch))).count; // 4
 */
export class LatencySketch {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  private readonly logGamma: number;
  private readonly gamma: number;
  private offset = 0;
  private counts: number[] = [];
  private zeroCount = 0;
  private total = 0;
  private sum = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  constructor(options: { relativeAccuracy?: number; maxBuckets?: number } = {}) {
    const accuracy = options.relativeAccuracy ?? 0.01;
    const maxBuckets = options.maxBuckets ?? 2048;
    if (!(accuracy > 0 && accuracy < 1)) {
      throw new LatencySketchError(
        `relativeAccuracy must be between 0 and 1 (exclusive), got ${accuracy}`,
      );
    }
    if (!Number.isInteger(maxBuckets) || maxBuckets < 16) {
      throw new LatencySketchError(
        `maxBuckets must be an integer of at least 16, got ${maxBuckets}`,
      );
    }
    this.relativeAccuracy = accuracy;
    this.maxBuckets = maxBuckets;
    this.gamma = (1 + accuracy) / (1 - accuracy);
    this.logGamma = Math.log(this.gamma);
  }

  /** How many values were added (merged ones included). */
  get count(): number {
    return this.total;
  }

  /** Adds one latency in ms. */
  add(ms: number): void {
    if (!(ms >= 0) || ms === Number.POSITIVE_INFINITY) return;
    this.total++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    if (ms < MIN_INDEXABLE_MS) {
      this.zeroCount++;
      return;
    }
    this.addToBucket(Math.ceil(Math.log(ms) / this.logGamma), 1);
  }

  /** Adds every value of `other` (same relative accuracy). */
  merge(other: LatencySketch): this {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new LatencySketchError(
        `cannot merge sketches of relative accuracy ${other.relativeAccuracy} and ${this.relativeAccuracy}`,
      );
    }
    if (other.total === 0) return this;
    for (let i = 0; i < other.counts.length; i++) {
      const n = other.counts[i]!;
      if (n > 0) this.addToBucket(other.offset + i, n);
    }
    this.zeroCount += other.zeroCount;
    this.total += other.total;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    return this;
  }

  /**
   * The value at quantile `q` (0..1): within the relative accuracy of the value at rank
   * q * (count - 1) of the input, clamped to the exact min and max. Null when empty or when
   * `q` is not in 0..1.
   */
  quantile(q: number): number | null {
    if (this.total === 0 || !(q >= 0 && q <= 1)) return null;
    if (q === 0) return this.min;
    if (q === 1) return this.max;
    const rank = q * (this.total - 1);
    let seen = this.zeroCount;
    if (rank < seen) return this.min < MIN_INDEXABLE_MS ? this.min : 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen > rank) {
        const value = (2 * this.gamma ** (this.offset + i)) / (this.gamma + 1);
        return Math.min(Math.max(value, this.min), this.max);
      }
    }
    return this.max;
  }

  /** Mean of the values, or null when empty. */
  mean(): number | null {
    return this.total === 0 ? null : this.sum / this.total;
  }

  toJSON(): LatencySketchJSON {
    return {
      relativeAccuracy: this.relativeAccuracy,
      maxBuckets: this.maxBuckets,
      offset: this.offset,
      counts: [...this.counts],
      zeroCount: this.zeroCount,
      count: this.total,
      sum: this.sum,
      min: this.total === 0 ? null : this.min,
      max: this.total === 0 ? null : this.max,
    };
  }

  /** Rebuilds a sketch from {@link toJSON}'s output; throws `LatencySketchError` on anything else. */
  static fromJSON(json: unknown): LatencySketch {
    if (json === null || typeof json !== 'object')
      throw new LatencySketchError('sketch JSON must be an object');
    const j = json as Partial<Record<keyof LatencySketchJSON, unknown>>;
    const sketch = new LatencySketch({
      relativeAccuracy: j.relativeAccuracy as number,
      maxBuckets: j.maxBuckets as number,
    });
    const isCount = (n: unknown): n is number =>
      typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
    if (!Number.isSafeInteger(j.offset) || !Array.isArray(j.counts) || !j.counts.every(isCount)) {
      throw new LatencySketchError('sketch JSON has invalid buckets');
    }
    if (
      j.counts.length > sketch.maxBuckets ||
      !isCount(j.zeroCount) ||
      !isCount(j.count) ||
      typeof j.sum !== 'number'
    ) {
      throw new LatencySketchError('sketch JSON has invalid counts');
    }
    const bucketTotal = (j.counts as number[]).reduce((a, b) => a + b, 0) + j.zeroCount;
    if (bucketTotal !== j.count) throw new LatencySketchError('sketch JSON counts do not add up');
    if (j.count > 0 && (typeof j.min !== 'number' || typeof j.max !== 'number' || j.min > j.max)) {
      throw new LatencySketchError('sketch JSON has an invalid min or max');
    }
    sketch.offset = j.offset as number;
    sketch.counts = [...(j.counts as number[])];
    sketch.zeroCount = j.zeroCount;
    sketch.total = j.count;
    sketch.sum = j.sum;
    if (j.count > 0) {
      sketch.min = j.min as number;
      sketch.max = j.max as number;
    }
    return sketch;
  }

  private addToBucket(index: number, n: number): void {
    if (this.counts.length === 0) {
      this.offset = index;
      this.counts.push(n);
      return;
    }
    if (index < this.offset) {
      const highest = this.offset + this.counts.length - 1;
      if (highest - index + 1 > this.maxBuckets) {
        // Too wide: the value goes into the lowest bucket kept (collapsing lowest).
        const lowest = highest - this.maxBuckets + 1;
        this.growDown(lowest);
        this.counts[0]! += n;
        return;
      }
      this.growDown(index);
    } else if (index >= this.offset + this.counts.length) {
      while (this.offset + this.counts.length <= index) this.counts.push(0);
      this.collapse();
      if (index < this.offset) {
        this.counts[0]! += n;
        return;
      }
    }
    this.counts[index - this.offset]! += n;
  }

  private growDown(index: number): void {
    if (index >= this.offset) return;
    const extra = new Array<number>(this.offset - index).fill(0);
    this.counts = extra.concat(this.counts);
    this.offset = index;
  }

  /** Keeps at most `maxBuckets` buckets by folding the lowest into the lowest kept. */
  private collapse(): void {
    const excess = this.counts.length - this.maxBuckets;
    if (excess <= 0) return;
    let folded = 0;
    for (let i = 0; i <= excess; i++) folded += this.counts[i]!;
    this.counts = this.counts.slice(excess);
    this.counts[0] = folded;
    this.offset += excess;
  }
}
