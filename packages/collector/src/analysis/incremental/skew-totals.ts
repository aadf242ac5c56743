import { mergeSkewPairs, type SkewPair } from '../clock-skew.js';
import type { SpanUnit } from './span-units.js';

/**
 * The clock-skew samples of a trace per caller/callee instance pair, kept merged as units are
 * replaced: an added unit's samples merge into the pair's total, a removed one's are taken out
 * of the sums. Only when a removed unit held what a merge keeps (the first sample, the best
 * estimate, the largest contradiction) is the pair merged again from all units that sampled
 * it; otherwise an append costs the samples it changes, not the pair's.
 */
export class SkewTotals {
  private readonly owners = new Map<string, Set<SpanUnit>>();
  private readonly merged = new Map<string, SkewPair>();

  update(retired: readonly SpanUnit[], added: readonly SpanUnit[]): void {
    const remerge = new Set<string>();
    for (const unit of retired) {
      for (const pair of unit.skew) {
        this.owners.get(pair.key)?.delete(unit);
        const total = this.merged.get(pair.key);
        if (
          total === undefined ||
          remerge.has(pair.key) ||
          total.first === pair.first ||
          total.bestAt === pair.bestAt ||
          (pair.maxViolationUs > 0 && pair.maxViolationUs === total.maxViolationUs)
        ) {
          remerge.add(pair.key);
          continue;
        }
        total.samples -= pair.samples;
        total.violations -= pair.violations;
      }
    }
    for (const unit of added) {
      for (const pair of unit.skew) {
        let owners = this.owners.get(pair.key);
        if (owners === undefined) {
          owners = new Set();
          this.owners.set(pair.key, owners);
        }
        owners.add(unit);
        if (remerge.has(pair.key)) continue;
        const total = this.merged.get(pair.key);
        this.merged.set(
          pair.key,
          total === undefined ? { ...pair } : mergeSkewPairs([[total], [pair]])[0]!,
        );
      }
    }
    for (const key of remerge) {
      const owners = this.owners.get(key);
      if (owners === undefined || owners.size === 0) {
        this.owners.delete(key);
        this.merged.delete(key);
        continue;
      }
      const lists = [...owners].map((u) => u.skew.filter((p) => p.key === key));
      this.merged.set(key, mergeSkewPairs(lists)[0]!);
    }
  }

  /** One merged pair per instance pair, in no particular order. */
  pairs(): SkewPair[] {
    return [...this.merged.values()];
  }
}
