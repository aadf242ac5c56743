import { type Access, compareIds } from './accesses.js';
import type { ConflictClasses } from './race-classes.js';

/**
 * The accesses of one call grouped by resource, each group in the happens-before-consistent
 * order (clock sum, then time, then event id; `sortHappensBeforeConsistent`), with what the race
 * sweep reads of each access as columns in that same order: typed arrays, and arrays of the
 * clock and component, indexed by **row** (an access's place in the grouped order).
 *
 * Why columns in sweep order: the sweep reads the accesses of one resource at a time, in
 * clock-sum order, and the accesses of a trace of 10^6 of them lie scattered over more than
 * 100 MB of heap. Reading each access object in that order costs a cache miss or more per
 * field. Instead, one pass in list order (allocation order, so memory is read front to back)
 * copies what the sort needs; each group is sorted on copies of its own keys (small enough to
 * stay in the CPU caches); and the sweep's columns are gathered into rows in tight loops, whose
 * independent loads the CPU overlaps. The sweep then reads its columns front to back.
 *
 * The typed arrays of one table stay well under 64 MB at 10^6 accesses: past that much memory
 * outside the JavaScript heap, V8 collects the whole heap at once, which on a large trace takes
 * longer than the analysis.
 *
 * @example
 * const table = new AccessTable(accesses);
 * for (let g = 0; g < table.groups; g++)
 *   for (let row = table.starts[g]!; row < table.starts[g + 1]!; row++)
 *     table.accesses[table.order[row]!];
 */
export class AccessTable {
  /** The list position of the access in each row. */
  readonly order: Int32Array;
  /** Group g is rows `starts[g] .. starts[g + 1]`; groups in order of first access. */
  readonly starts: Int32Array;
  readonly groups: number;
  /** Per group: 1 when more than one context accessed the resource (only those can race). */
  readonly shared: Uint8Array;
  /**
   * Per row of a shared group (the rows of other groups are left empty): own epoch (+Infinity
   * for a clock without its own entry), context, conflict class (when built with
   * {@link ConflictClasses}), clock and component.
   */
  readonly epoch: Float64Array;
  readonly ctx: Int32Array;
  readonly cls: Int32Array;
  readonly clocks: Array<Record<string, number>>;
  readonly components: string[];

  /**
   * `sortAll` false leaves the groups of one context in list order: the race sweeps skip them,
   * and their sort would be a third of the table's cost on a typical trace.
   */
  constructor(
    readonly accesses: readonly Access[],
    classes?: ConflictClasses,
    sortAll = true,
  ) {
    const n = accesses.length;
    // List order: the sort keys and each access's group.
    const sum = new Float64Array(n);
    const tsUs = new Float64Array(n);
    const groupOf = new Int32Array(n);
    /** Group of each resource id seen, by resource id. */
    const groupOfResource: number[] = [];
    const sizes: number[] = [];
    /** Per group: the context of its first access, or -1 once a second context is seen. */
    const soleContext: number[] = [];
    for (let k = 0; k < n; k++) {
      const access = accesses[k]!;
      sum[k] = access.sum;
      tsUs[k] = access.tsUs;
      let group = groupOfResource[access.resourceId];
      if (group === undefined) {
        group = sizes.length;
        groupOfResource[access.resourceId] = group;
        sizes.push(0);
        soleContext.push(access.ctx);
      } else if (soleContext[group] !== access.ctx) {
        soleContext[group] = -1;
      }
      sizes[group]!++;
      groupOf[k] = group;
    }
    this.groups = sizes.length;
    this.shared = new Uint8Array(sizes.length);
    this.starts = new Int32Array(sizes.length + 1);
    let largest = 0;
    for (let g = 0; g < sizes.length; g++) {
      this.shared[g] = soleContext[g] === -1 ? 1 : 0;
      this.starts[g + 1] = this.starts[g]! + sizes[g]!;
      if (sizes[g]! > largest) largest = sizes[g]!;
    }
    const next = this.starts.slice(0, sizes.length);
    this.order = new Int32Array(n);
    for (let k = 0; k < n; k++) this.order[next[groupOf[k]!]!++] = k;
    const sorter = new GroupSorter(accesses, sum, tsUs, largest);
    for (let g = 0; g < sizes.length; g++) {
      if (sortAll || this.shared[g] === 1)
        sorter.sort(this.order.subarray(this.starts[g]!, this.starts[g + 1]!));
    }
    this.epoch = new Float64Array(n);
    this.ctx = new Int32Array(n);
    this.cls = new Int32Array(classes ? n : 0);
    this.clocks = new Array(n);
    this.components = new Array(n);
    for (let g = 0; g < sizes.length; g++) {
      if (this.shared[g] === 1) this.gatherRows(this.starts[g]!, this.starts[g + 1]!, classes);
    }
  }

  /** Fills the columns of rows `start .. end` from their accesses. */
  private gatherRows(start: number, end: number, classes?: ConflictClasses): void {
    for (let row = start; row < end; row++) {
      const access = this.accesses[this.order[row]!]!;
      this.epoch[row] = access.epoch;
      this.ctx[row] = access.ctx;
      if (classes) this.cls[row] = classes.classOf(access);
      this.clocks[row] = access.clock;
      this.components[row] = access.component;
    }
  }

  /** The accesses of group g, in order. */
  group(g: number): Access[] {
    const out: Access[] = [];
    for (let row = this.starts[g]!; row < this.starts[g + 1]!; row++)
      out.push(this.accesses[this.order[row]!]!);
    return out;
  }
}

/**
 * Sorts one group's list positions into the happens-before-consistent order, comparing copies of
 * the group's keys (clock sum and time) that sit side by side, not the columns of the whole list.
 * Ties go to the event id, then to the list position, so that the result is the stable sort of
 * the list order (as sorting the access objects themselves gives).
 */
class GroupSorter {
  private readonly sum: Float64Array;
  private readonly tsUs: Float64Array;
  private readonly rank: Int32Array;
  private positions: Int32Array = new Int32Array(0);

  constructor(
    private readonly accesses: readonly Access[],
    private readonly listSum: Float64Array,
    private readonly listTsUs: Float64Array,
    largest: number,
  ) {
    this.sum = new Float64Array(largest);
    this.tsUs = new Float64Array(largest);
    this.rank = new Int32Array(largest);
  }

  /** Sorts `positions` (list positions, in list order) in place. */
  sort(positions: Int32Array): void {
    const m = positions.length;
    if (m < 2) return;
    for (let j = 0; j < m; j++) {
      const k = positions[j]!;
      this.sum[j] = this.listSum[k]!;
      this.tsUs[j] = this.listTsUs[k]!;
      this.rank[j] = j;
    }
    this.positions = positions;
    const ranks = this.rank.subarray(0, m).sort(this.compare);
    const sorted = Int32Array.from(ranks, (j) => positions[j]!);
    positions.set(sorted);
  }

  private readonly compare = (x: number, y: number): number =>
    this.sum[x]! - this.sum[y]! ||
    this.tsUs[x]! - this.tsUs[y]! ||
    compareIds(this.accesses[this.positions[x]!]!.id, this.accesses[this.positions[y]!]!.id) ||
    x - y;
}
