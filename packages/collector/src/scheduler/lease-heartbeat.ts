import type { Storage } from '../storage/types.js';

/** A lease is renewed this many times per lease length: a few missed renewals do not lose it. */
const RENEWALS_PER_LEASE = 5;

/**
 * Keeps the analysis leases of a chunk of traces while this collector analyses them, so that
 * leases can be short (a dead collector's traces are taken over soon) however long an analysis
 * takes. Leases are renewed every fifth of their length by a timer (while the chunk's reads and
 * writes are awaited) and by `renewIfDue` between two traces' analyses (while the event loop is
 * busy analysing, when the timer cannot fire). A collector that dies stops renewing: its leases
 * run out within one lease length.
 *
 * A lease found lost (this process stalled past its end and another collector took the trace
 * over) is not renewed again: `holds` then says no, and the trace's analysis is not saved.
 */
export class LeaseHeartbeat {
  private readonly held: Set<string>;
  private readonly everyMs: number;
  /** When the last successful claim or renewal was sent: the leases run until then + leaseMs. */
  private lastRenewedMs: number;
  private renewing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly storage: Storage,
    private readonly owner: string,
    private readonly leaseMs: number,
    traceIds: string[],
    claimedAtMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.held = new Set(traceIds);
    this.lastRenewedMs = claimedAtMs;
    this.everyMs = Math.max(1, Math.floor(leaseMs / RENEWALS_PER_LEASE));
    if (traceIds.length > 0) {
      this.timer = setInterval(() => void this.renew(), this.everyMs);
      this.timer.unref();
    }
  }

  /**
   * Whether the lease on `traceId` is surely still this collector's: the last renewal kept it
   * and has not run out since (after failed renewals it may have, and been taken over).
   */
  holds(traceId: string): boolean {
    return this.held.has(traceId) && Date.now() - this.lastRenewedMs < this.leaseMs;
  }

  /** Renews unless the last renewal is recent enough; waits for one in flight. */
  renewIfDue(): Promise<void> {
    if (this.renewing) return this.renewing;
    return Date.now() - this.lastRenewedMs >= this.everyMs ? this.renew() : Promise.resolve();
  }

  /** Stops renewing; resolves once a renewal in flight is done, so that none outlives it. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.renewing;
  }

  private renew(): Promise<void> {
    if (this.renewing) return this.renewing;
    if (this.held.size === 0) return Promise.resolve();
    const sentMs = Date.now();
    const ids = [...this.held];
    this.renewing = this.storage
      .renewTraces(ids, this.owner, this.leaseMs)
      .then(
        (kept) => {
          const still = new Set(kept);
          for (const id of ids) if (!still.has(id)) this.held.delete(id);
          this.lastRenewedMs = sentMs;
        },
        // Reported, not thrown: the leases hold until they run out, and the next beat (or
        // the check before saving) tries again.
        (error) => this.onError(error),
      )
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }
}
