import type { DependencyGraph } from './analysis/dependency-graph.js';
import type { Event } from './analysis/event.js';
import type { ServiceMetrics } from './analysis/service-metrics.js';
import { TrafficAggregates, type TrafficBucketJSON } from './analysis/traffic-aggregates.js';
import {
  type SdkIdentity,
  SdkRegistry,
  type SdkRegistryJSON,
  type ServiceSdk,
} from './ingest/sdk-registry.js';
import type { AggregateRange, AggregateRow, Storage } from './storage/types.js';

const HOUR_MS = 3_600_000;
const MINUTE = 'traffic-minute';
const HOUR = 'traffic-hour';
const SDKS = 'sdks';
/** Hosts whose callee is looked up in storage per query, at most (the rest stay hosts). */
const MAX_HOSTS_RESOLVED = 32;
/** Callees of hosts remembered (a host keeps its callee: looked up once). */
const MAX_KNOWN_HOSTS = 1024;
/** A host no stored server span answered is looked up again after this long. */
const UNANSWERED_RETRY_MS = 15_000;

export interface SharedAggregatesOptions {
  storage: Storage;
  /** This collector's id: its rows in storage (unique per process). */
  collectorId: string;
  /** How long data is kept (the aggregates' horizon). */
  retentionMs: number;
  /** How often this collector's changes are saved (default 1 s). */
  flushIntervalMs?: number;
  onError?: (error: unknown, what: string) => void;
}

/**
 * Service metrics, dependencies and SDKs, answered alike by every collector sharing a store.
 * Each collector counts what it ingests (TrafficAggregates, SdkRegistry) and saves what
 * changed, every second and before it answers, as rows of its own; an answer merges every
 * collector's rows of the range. A call to a host that none of the merged server spans
 * answered (its callee's events went to another collector) is looked up in the stored trace.
 *
 * @example
 * const aggregates = new SharedAggregates({ storage, collectorId, retentionMs });
 * aggregates.start();
 * aggregates.add(storedEvents);
 * const view = await aggregates.view(fromMs, toMs);
 * view.dependencyGraph(); // every collector's calls
 */
export class SharedAggregates {
  private readonly traffic: TrafficAggregates;
  private readonly sdks = new SdkRegistry();
  /** Rows not saved yet (a failed save is retried with the next). */
  private readonly unsaved = new Map<string, AggregateRow>();
  private replaced: AggregateRange[] = [];
  private saving: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly calleeOfHost = new Map<string, string>();
  /** Hosts looked up without finding their callee (uninstrumented ones): until when to wait. */
  private readonly unanswered = new Map<string, number>();

  constructor(private readonly options: SharedAggregatesOptions) {
    this.traffic = new TrafficAggregates(options.retentionMs);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch((error) => this.options.onError?.(error, 'saving the aggregates'));
    }, this.options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Stops the periodic save and saves what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch((error) => this.options.onError?.(error, 'saving the aggregates'));
  }

  /** Counts newly stored events. */
  add(events: readonly Event[]): void {
    this.traffic.add(events);
  }

  /** Notes the SDK of a batch for the services of its stored events. */
  noteSdk(
    sdk: SdkIdentity | undefined,
    events: ReadonlyArray<{ service: string; instance?: string | null }>,
  ): void {
    this.sdks.note(sdk, events);
  }

  /** Saves what changed since the last save (one save at a time, in order). */
  flush(): Promise<void> {
    const next = this.saving.catch(() => {}).then(() => this.saveChanges());
    this.saving = next;
    return next;
  }

  private async saveChanges(): Promise<void> {
    const { buckets, compactedMinutes } = this.traffic.takeChanged();
    for (const bucket of buckets) {
      const name = bucket.spanMs === HOUR_MS ? HOUR : MINUTE;
      this.unsaved.set(`${name}:${bucket.startMs}`, {
        name,
        startMs: bucket.startMs,
        untilMs: bucket.startMs + bucket.spanMs,
        body: JSON.stringify(bucket),
      });
    }
    for (const startMs of compactedMinutes) {
      this.unsaved.delete(`${MINUTE}:${startMs}`);
      this.replaced.push({ name: MINUTE, fromMs: startMs, toMs: startMs + 1 });
    }
    if (this.sdks.takeChanged()) {
      this.unsaved.set(SDKS, {
        name: SDKS,
        startMs: 0,
        // Kept while this collector hears from SDKs, dropped by retention after.
        untilMs: Date.now(),
        body: JSON.stringify(this.sdks.toJSON()),
      });
    }
    if (this.unsaved.size === 0 && this.replaced.length === 0) return;
    const rows = [...this.unsaved.values()];
    const replaced = this.replaced;
    await this.options.storage.saveAggregates(this.options.collectorId, rows, replaced);
    // Saved: rows changed meanwhile were put back by a later takeChanged, not by this one.
    for (const row of rows) {
      const key = row.name === SDKS ? SDKS : `${row.name}:${row.startMs}`;
      if (this.unsaved.get(key) === row) this.unsaved.delete(key);
    }
    this.replaced = this.replaced.filter((r) => !replaced.includes(r));
  }

  /** Every collector's aggregates over [fromMs, toMs], this one's saved first. */
  async view(fromMs: number, toMs: number): Promise<AggregatesView> {
    const { storage } = this.options;
    await this.flush();
    const [minutes, hours, sdks] = await Promise.all([
      storage.loadAggregates(MINUTE, fromMs, toMs),
      storage.loadAggregates(HOUR, fromMs, toMs),
      storage.loadAggregates(SDKS, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY),
    ]);
    const traffic = TrafficAggregates.fromBuckets(
      [...minutes, ...hours].map((row) => JSON.parse(row.body) as TrafficBucketJSON),
    );
    const registry = new SdkRegistry();
    for (const row of sdks) registry.merge(JSON.parse(row.body) as SdkRegistryJSON);
    const calleeOfHost = await this.resolveHosts(traffic.unmatchedHosts(fromMs, toMs));
    const truncated = fromMs < Date.now() - this.options.retentionMs;
    return new AggregatesView(traffic, registry, calleeOfHost, fromMs, toMs, truncated);
  }

  /**
   * Who answered calls to hosts no merged server span answered: the server span whose parent
   * is one of the calls, in the stored trace (written by whichever collector got it).
   */
  private async resolveHosts(unmatched: Map<string, string[]>): Promise<Map<string, string>> {
    const resolved = new Map<string, string>();
    let lookups = 0;
    for (const [host, samples] of unmatched) {
      const known = this.calleeOfHost.get(host);
      if (known !== undefined) {
        resolved.set(host, known);
        continue;
      }
      if (lookups >= MAX_HOSTS_RESOLVED || (this.unanswered.get(host) ?? 0) > Date.now()) continue;
      lookups++;
      for (const sample of samples) {
        const [traceId, spanId] = sample.split(':') as [string, string];
        const events = await this.options.storage.getTraceEvents(traceId);
        const server = events.find(
          (e) => e.kind === 'request_received' && e.parent_span_id === spanId,
        );
        if (server) {
          resolved.set(host, server.service);
          this.calleeOfHost.set(host, server.service);
          if (this.calleeOfHost.size > MAX_KNOWN_HOSTS) {
            this.calleeOfHost.delete(this.calleeOfHost.keys().next().value!);
          }
          break;
        }
      }
      if (!resolved.has(host)) {
        this.unanswered.set(host, Date.now() + UNANSWERED_RETRY_MS);
        if (this.unanswered.size > MAX_KNOWN_HOSTS) {
          this.unanswered.delete(this.unanswered.keys().next().value!);
        }
      }
    }
    return resolved;
  }
}

/** Every collector's aggregates over one range, merged: what the query routes answer. */
export class AggregatesView {
  constructor(
    private readonly traffic: TrafficAggregates,
    private readonly sdks: SdkRegistry,
    private readonly calleeOfHost: ReadonlyMap<string, string>,
    private readonly fromMs: number,
    private readonly toMs: number,
    /** Whether the range starts before what retention keeps. */
    readonly truncated: boolean,
  ) {}

  serviceMetrics(): Array<ServiceMetrics & { sdks: ServiceSdk[] }> {
    return this.traffic
      .serviceMetrics(this.fromMs, this.toMs)
      .map((metrics) => ({ ...metrics, sdks: this.sdks.of(metrics.service) }));
  }

  dependencyGraph(): DependencyGraph {
    return this.traffic.dependencyGraph(this.fromMs, this.toMs, this.calleeOfHost);
  }

  /** Service metrics and dependencies of [fromMs, toMs] (whole buckets), for a part of the range. */
  slice(fromMs: number, toMs: number): { services: ServiceMetrics[]; graph: DependencyGraph } {
    return {
      services: this.traffic.serviceMetrics(fromMs, toMs),
      graph: this.traffic.dependencyGraph(fromMs, toMs, this.calleeOfHost),
    };
  }

  /** Request/response events counted in the range. */
  eventsConsidered(): number {
    return this.traffic.coverage(this.fromMs, this.toMs).events;
  }
}
