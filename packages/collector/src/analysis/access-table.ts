import { type Access, compareIds } from './accesses.js';
import type { ConflictClasses } from './race-classes.js';

/**
 * The accesses of one call as columns (typed arrays indexed by the access's position in the
 * list), grouped by resource, each group in the happens-before-consistent order (clock sum,
 * then time, then event id; `sortHappensBeforeConsistent`).
 *
 * Why columns: the sweeps read the accesses of one resource at a time, in clock-sum order, and
 * the accesses of a trace of 10^6 of them lie scattered over more than 100 MB of heap: reading
 * each access object in that order costs a cache miss or more per access. One pass in list
 * order (which is allocation order, so the memory is read front to back) copies what the sort
 * and the sweep read into arrays small enough to stay in the CPU caches.
 *
 * @example
 * const table = new AccessTable(accesses);
 * for (let g = 0; g < table.groups; g++)
 *   for (let i = table.starts[g]!; i < table.starts[g + 1]!; i++) table.accesses[table.order[i]!];
 */
export class AccessTable {
  readonly sum: Float64Array;
  readonly tsUs: Float64Array;
  /** Own epochs (+Infinity for a clock without its own entry). */
  readonly epoch: Float64Array;
  readonly ctx: Int32Array;
  /** Conflict classes, when the table was built with {@link ConflictClasses}; else empty. */
  readonly cls: Int32Array;
  readonly clocks: Array<Record<string, number>>;
  readonly components: string[];
  /** Access positions, grouped by resource (groups in order of first access), each sorted. */
  readonly order: Int32Array;
  /** Group g is `order[starts[g] .. starts[g + 1])`. */
  readonly starts: Int32Array;
  readonly groups: number;

  constructor(
    readonly accesses: readonly Access[],
    classes?: ConflictClasses,
  ) {
    const n = accesses.length;
    this.sum = new Float64Array(n);
    this.tsUs = new Float64Array(n);
    this.epoch = new Float64Array(n);
    this.ctx = new Int32Array(n);
    this.cls = new Int32Array(classes ? n : 0);
    this.clocks = new Array(n);
    this.components = new Array(n);
    const groupOf = new Int32Array(n);
    /** Group of each resource id seen, by resource id. */
    const groupOfResource: number[] = [];
    const sizes: number[] = [];
    for (let k = 0; k < n; k++) {
      const access = accesses[k]!;
      this.sum[k] = access.sum;
      this.tsUs[k] = access.tsUs;
      this.epoch[k] = access.epoch;
      this.ctx[k] = access.ctx;
      if (classes) this.cls[k] = classes.classOf(access);
      this.clocks[k] = access.clock;
      this.components[k] = access.component;
      let group = groupOfResource[access.resourceId];
      if (group === undefined) {
        group = sizes.length;
        groupOfResource[access.resourceId] = group;
        sizes.push(0);
      }
      sizes[group]!++;
      groupOf[k] = group;
    }
    this.groups = sizes.length;
    this.starts = new Int32Array(sizes.length + 1);
    for (let g = 0; g < sizes.length; g++) this.starts[g + 1] = this.starts[g]! + sizes[g]!;
    const next = this.starts.slice(0, sizes.length);
    this.order = new Int32Array(n);
    for (let k = 0; k < n; k++) this.order[next[groupOf[k]!]!++] = k;
    for (let g = 0; g < sizes.length; g++) {
      this.order.subarray(this.starts[g]!, this.starts[g + 1]!).sort(this.compare);
    }
  }

  /**
   * Happens-before-consistent order of two positions; the position last, so that the result is
   * the stable sort of the list order (as sorting the access objects themselves gives).
   */
  private readonly compare = (x: number, y: number): number =>
    this.sum[x]! - this.sum[y]! ||
    this.tsUs[x]! - this.tsUs[y]! ||
    compareIds(this.accesses[x]!.id, this.accesses[y]!.id) ||
    x - y;

  /** The accesses of group g, in order. */
  group(g: number): Access[] {
    const out: Access[] = [];
    for (let i = this.starts[g]!; i < this.starts[g + 1]!; i++)
      out.push(this.accesses[this.order[i]!]!);
    return out;
  }
}
