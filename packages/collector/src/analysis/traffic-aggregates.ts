import { compareIds } from './accesses.js';
import { getOrCreate } from './collections.js';
import type { DependencyEdge, DependencyGraph, DependencyNode } from './dependency-graph.js';
import { summarize } from './dependency-graph.js';
import { type Event, isFailure, numberField, stringField } from './event.js';
import { LatencySketch, type LatencySketchJSON } from './latency-sketch.js';
import type { ServiceMetrics } from './service-metrics.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

interface ServiceCell {
  instances: Set<string>;
  requests: number;
  errors: number;
  sketch: LatencySketch;
}

interface EdgeCell {
  caller: string;
  host: string;
  calls: number;
  errors: number;
  /** Calls matched with the server span that answered them, per callee service. */
  matched: Map<string, number>;
  sketch: LatencySketch;
  /**
   * A few calls (`trace:span`) not matched when counted: where another collector's storage can
   * tell the callee of a host none of this collector's server spans answered.
   */
  samples: string[];
}

interface Bucket {
  startMs: number;
  spanMs: number;
  services: Map<string, ServiceCell>;
  edges: Map<string, EdgeCell>;
  events: number;
}

/** Most instances counted per service and bucket (a bound, not a limit anyone should reach). */
const MAX_INSTANCES = 256;
/** Unmatched calls remembered per edge and bucket (see EdgeCell.samples). */
const MAX_SAMPLES = 2;

/** A bucket as JSON, for storage: what {@link TrafficAggregates.takeChanged} gives. */
export interface TrafficBucketJSON {
  startMs: number;
  spanMs: number;
  events: number;
  services: Array<{
    service: string;
    instances: string[];
    requests: number;
    errors: number;
    sketch: LatencySketchJSON;
  }>;
  edges: Array<{
    caller: string;
    host: string;
    calls: number;
    errors: number;
    matched: Array<[string, number]>;
    sketch: LatencySketchJSON;
    samples: string[];
  }>;
}

/** What changed since the last {@link TrafficAggregates.takeChanged}. */
export interface TrafficChanges {
  buckets: TrafficBucketJSON[];
  /** Minute buckets merged into their hour's bucket since (by start): they are gone. */
  compactedMinutes: number[];
}

/**
 * Service metrics and the dependency graph, maintained as events are stored (DESIGN 4):
 * per time bucket (a minute for the last `minuteHorizonMs`, an hour beyond, up to
 * `horizonMs`), per service and per caller -> host edge, counts and a mergeable
 * {@link LatencySketch}. A query merges the buckets of its range: its cost depends on the
 * buckets and series, never on the number of events.
 *
 * Server spans count from their `response_sent` (status, `duration_ms`); client calls from
 * their `response_received`. A call is matched with the server span it caused (parent span id
 * = client span id) whichever of the two arrives first, through two bounded maps; the edge
 * goes to the callee that answered calls to that host, else to the host as an uninstrumented
 * node.
 *
 * @example
 * const traffic = new TrafficAggregates();
 * traffic.add(storedEvents);
 * traffic.serviceMetrics(fromMs, toMs); // [{ service: 'inventory', requests: 120, ... }]
 */
export class TrafficAggregates {
  private readonly minutes = new Map<number, Bucket>();
  private readonly hours = new Map<number, Bucket>();
  /** Callee service of a client span (from the server side's request_received). */
  private readonly calleeOfCall = new Map<string, string>();
  /** Client calls not matched yet: where their edge is. */
  private readonly unmatched = new Map<string, { edge: EdgeCell; bucket: Bucket }>();
  /** Buckets changed since the last takeChanged(). */
  private readonly changed = new Set<Bucket>();
  private compactedMinutes: number[] = [];
  private lastCompactMs = 0;
  /**
   * Since when the aggregates hold every request (set by the collector: its start minus what
   * it read back from storage); ranges starting earlier are answered `truncated`.
   */
  coveredSinceMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly horizonMs = 7 * 24 * HOUR_MS,
    private readonly minuteHorizonMs = 24 * HOUR_MS,
    /** Most calls kept waiting for their other side (memory bound). */
    private readonly maxPending = 100_000,
  ) {}

  /** Counts newly stored events. */
  add(events: readonly Event[], nowMs = Date.now()): void {
    for (const event of events) {
      switch (event.kind) {
        case 'response_sent':
          this.addServerSpan(event, nowMs);
          break;
        case 'response_received':
          this.addCall(event, nowMs);
          break;
        case 'request_received':
          if (event.parent_span_id !== null) this.matchCallee(event);
          break;
        default:
          break;
      }
    }
  }

  /** Per service over [fromMs, toMs] (whole buckets overlapping it). */
  serviceMetrics(fromMs: number, toMs: number): ServiceMetrics[] {
    const merged = new Map<string, ServiceCell>();
    for (const bucket of this.bucketsIn(fromMs, toMs)) {
      for (const [service, cell] of bucket.services) {
        const into = merged.get(service);
        if (!into) {
          merged.set(service, {
            instances: new Set(cell.instances),
            requests: cell.requests,
            errors: cell.errors,
            sketch: new LatencySketch().merge(cell.sketch),
          });
          continue;
        }
        for (const i of cell.instances) into.instances.add(i);
        into.requests += cell.requests;
        into.errors += cell.errors;
        into.sketch.merge(cell.sketch);
      }
    }
    const seconds = Math.max(toMs - fromMs, 0) / 1000;
    return [...merged]
      .map(([service, cell]) => ({
        service,
        instances: cell.instances.size,
        requests: cell.requests,
        errors: cell.errors,
        errorRate: cell.requests > 0 ? round(cell.errors / cell.requests) : 0,
        latencyMs: summarize(cell.sketch),
        requestsPerSecond: seconds > 0 ? round(cell.requests / seconds) : null,
      }))
      .sort((a, b) => compareIds(a.service, b.service));
  }

  /** The dependency graph over [fromMs, toMs] (whole buckets overlapping it). */
  dependencyGraph(
    fromMs: number,
    toMs: number,
    /** Callees of hosts learnt elsewhere (see {@link unmatchedHosts}). */
    calleeOfHost: ReadonlyMap<string, string> = new Map(),
  ): DependencyGraph {
    const merged = new Map<string, EdgeCell>();
    const services = new Set<string>();
    for (const bucket of this.bucketsIn(fromMs, toMs)) {
      for (const service of bucket.services.keys()) services.add(service);
      for (const [key, cell] of bucket.edges) {
        let into = merged.get(key);
        if (!into) {
          into = {
            ...cell,
            matched: new Map(),
            sketch: new LatencySketch(),
            calls: 0,
            errors: 0,
            samples: [],
          };
          merged.set(key, into);
        }
        into.calls += cell.calls;
        into.errors += cell.errors;
        into.sketch.merge(cell.sketch);
        for (const [callee, n] of cell.matched) {
          into.matched.set(callee, (into.matched.get(callee) ?? 0) + n);
        }
      }
    }
    const byTarget = new Map<string, DependencyEdge & { sketch: LatencySketch }>();
    const hosts = new Set<string>();
    for (const cell of merged.values()) {
      services.add(cell.caller);
      let callee: string | null = null;
      let matched = 0;
      for (const [name, n] of cell.matched) {
        matched += n;
        if (callee === null || n > (cell.matched.get(callee) ?? 0)) callee = name;
      }
      const resolved = callee === null ? (calleeOfHost.get(cell.host) ?? null) : null;
      if (resolved !== null) {
        // Answered by a service another collector stored: every call went there.
        callee = resolved;
        matched = cell.calls;
      }
      const to = callee ?? cell.host;
      if (callee === null) hosts.add(cell.host);
      else services.add(callee);
      const key = `${cell.caller}\u0000${to}`;
      let edge = byTarget.get(key);
      if (!edge) {
        edge = {
          from: cell.caller,
          to,
          calls: 0,
          errors: 0,
          errorRate: 0,
          unmatched: 0,
          latencyMs: { p50: null, p95: null, p99: null },
          sketch: new LatencySketch(),
        };
        byTarget.set(key, edge);
      }
      edge.calls += cell.calls;
      edge.errors += cell.errors;
      edge.unmatched += callee === null ? 0 : Math.max(0, cell.calls - matched);
      edge.sketch.merge(cell.sketch);
    }
    const edges: DependencyEdge[] = [...byTarget.values()]
      .map(({ sketch, ...edge }) => ({
        ...edge,
        errorRate: edge.calls > 0 ? round(edge.errors / edge.calls) : 0,
        latencyMs: summarize(sketch),
      }))
      .sort((a, b) => compareIds(a.from, b.from) || compareIds(a.to, b.to));
    const nodes: DependencyNode[] = [
      ...[...services].map((name) => ({ name, uninstrumented: false })),
      ...[...hosts]
        .filter((host) => !services.has(host))
        .map((name) => ({ name, uninstrumented: true })),
    ].sort((a, b) => compareIds(a.name, b.name));
    return { nodes, edges };
  }

  /**
   * Hosts of calls in [fromMs, toMs] that no server span counted here answered, with a few of
   * their calls (`trace:span`): storage can tell who answered those.
   */
  unmatchedHosts(fromMs: number, toMs: number): Map<string, string[]> {
    const matchedHosts = new Set<string>();
    const samples = new Map<string, string[]>();
    for (const bucket of this.bucketsIn(fromMs, toMs)) {
      for (const cell of bucket.edges.values()) {
        if (cell.matched.size > 0) matchedHosts.add(cell.host);
        else getOrCreate(samples, cell.host, () => []).push(...cell.samples);
      }
    }
    for (const host of matchedHosts) samples.delete(host);
    return samples;
  }

  /** The buckets changed since the last call, as JSON, and the minutes compacted meanwhile. */
  takeChanged(): TrafficChanges {
    const buckets: TrafficBucketJSON[] = [];
    for (const bucket of this.changed) {
      // A minute merged into its hour since it changed is gone: its hour holds its counts.
      const live = (bucket.spanMs === HOUR_MS ? this.hours : this.minutes).get(bucket.startMs);
      if (live === bucket) buckets.push(bucketToJSON(bucket));
    }
    this.changed.clear();
    const compactedMinutes = this.compactedMinutes;
    this.compactedMinutes = [];
    return { buckets, compactedMinutes };
  }

  /**
   * Aggregates made of stored buckets (several collectors' buckets of one time add up), to
   * answer queries: the call matching state is not restored, nothing should be added to them.
   */
  static fromBuckets(buckets: Iterable<TrafficBucketJSON>): TrafficAggregates {
    const aggregates = new TrafficAggregates(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    for (const json of buckets) {
      const bucket = bucketFromJSON(json);
      const into = json.spanMs === HOUR_MS ? aggregates.hours : aggregates.minutes;
      const known = into.get(bucket.startMs);
      if (known) mergeBucket(known, bucket);
      else into.set(bucket.startMs, bucket);
    }
    return aggregates;
  }

  /** Events counted in the buckets of a range, and whether the range reaches past the horizon. */
  coverage(
    fromMs: number,
    toMs: number,
    nowMs = Date.now(),
  ): { events: number; truncated: boolean } {
    let events = 0;
    for (const bucket of this.bucketsIn(fromMs, toMs)) events += bucket.events;
    return {
      events,
      truncated: fromMs < Math.max(this.coveredSinceMs, nowMs - this.horizonMs),
    };
  }

  private *bucketsIn(fromMs: number, toMs: number): Iterable<Bucket> {
    for (const buckets of [this.hours, this.minutes]) {
      for (const bucket of buckets.values()) {
        if (bucket.startMs + bucket.spanMs > fromMs && bucket.startMs <= toMs) yield bucket;
      }
    }
  }

  private bucketAt(tsUs: number, nowMs: number): Bucket | null {
    const ms = Math.floor(tsUs / 1000);
    if (ms < nowMs - this.horizonMs) return null;
    if (nowMs - this.lastCompactMs > MINUTE_MS) this.compact(nowMs);
    const [buckets, spanMs] =
      ms < nowMs - this.minuteHorizonMs ? [this.hours, HOUR_MS] : [this.minutes, MINUTE_MS];
    const startMs = ms - (ms % spanMs);
    let bucket = buckets.get(startMs);
    if (!bucket) {
      bucket = { startMs, spanMs, services: new Map(), edges: new Map(), events: 0 };
      buckets.set(startMs, bucket);
    }
    this.changed.add(bucket);
    return bucket;
  }

  private addServerSpan(event: Event, nowMs: number): void {
    const bucket = this.bucketAt(event.ts_us, nowMs);
    if (!bucket) return;
    bucket.events++;
    let cell = bucket.services.get(event.service);
    if (!cell) {
      cell = { instances: new Set(), requests: 0, errors: 0, sketch: new LatencySketch() };
      bucket.services.set(event.service, cell);
    }
    if (cell.instances.size < MAX_INSTANCES) cell.instances.add(event.instance);
    cell.requests++;
    if (isFailure(event)) cell.errors++;
    const duration = numberField(event, 'duration_ms');
    if (duration !== undefined && duration >= 0) cell.sketch.add(duration);
  }

  private addCall(event: Event, nowMs: number): void {
    const bucket = this.bucketAt(event.ts_us, nowMs);
    if (!bucket) return;
    bucket.events++;
    const host = stringField(event, 'host') ?? 'unknown';
    const key = `${event.service}\u0000${host}`;
    let edge = bucket.edges.get(key);
    if (!edge) {
      edge = {
        caller: event.service,
        host,
        calls: 0,
        errors: 0,
        matched: new Map(),
        sketch: new LatencySketch(),
        samples: [],
      };
      bucket.edges.set(key, edge);
    }
    edge.calls++;
    if (isFailure(event)) edge.errors++;
    const duration = numberField(event, 'duration_ms');
    if (duration !== undefined && duration >= 0) edge.sketch.add(duration);
    const call = `${event.trace_id}:${event.span_id}`;
    const callee = this.calleeOfCall.get(call);
    if (callee !== undefined) {
      this.calleeOfCall.delete(call);
      edge.matched.set(callee, (edge.matched.get(callee) ?? 0) + 1);
    } else {
      if (edge.samples.length < MAX_SAMPLES) edge.samples.push(call);
      remember(this.unmatched, call, { edge, bucket }, this.maxPending);
    }
  }

  private matchCallee(event: Event): void {
    const call = `${event.trace_id}:${event.parent_span_id}`;
    const pending = this.unmatched.get(call);
    if (pending) {
      const { edge, bucket } = pending;
      this.unmatched.delete(call);
      edge.matched.set(event.service, (edge.matched.get(event.service) ?? 0) + 1);
      // The bucket, or the hour it was merged into since, is saved again.
      const hourStart = bucket.startMs - (bucket.startMs % HOUR_MS);
      const live = this.minutes.get(bucket.startMs) === bucket ? bucket : this.hours.get(hourStart);
      if (live) this.changed.add(live);
    } else {
      remember(this.calleeOfCall, call, event.service, this.maxPending);
    }
  }

  /** Past the minute horizon, minute buckets merge into their hour; past the horizon, gone. */
  private compact(nowMs: number): void {
    this.lastCompactMs = nowMs;
    for (const [startMs, bucket] of this.minutes) {
      if (startMs >= nowMs - this.minuteHorizonMs) continue;
      this.minutes.delete(startMs);
      const hourStart = startMs - (startMs % HOUR_MS);
      let hour = this.hours.get(hourStart);
      if (hour) mergeBucket(hour, bucket);
      else {
        hour = { ...bucket, startMs: hourStart, spanMs: HOUR_MS };
        this.hours.set(hourStart, hour);
      }
      this.changed.add(hour);
      this.compactedMinutes.push(startMs);
    }
    for (const [startMs, bucket] of this.hours) {
      if (startMs + bucket.spanMs < nowMs - this.horizonMs) this.hours.delete(startMs);
    }
  }
}

function mergeBucket(into: Bucket, from: Bucket): void {
  into.events += from.events;
  for (const [service, cell] of from.services) {
    const known = into.services.get(service);
    if (!known) into.services.set(service, cell);
    else {
      for (const i of cell.instances)
        if (known.instances.size < MAX_INSTANCES) known.instances.add(i);
      known.requests += cell.requests;
      known.errors += cell.errors;
      known.sketch.merge(cell.sketch);
    }
  }
  for (const [key, cell] of from.edges) {
    const known = into.edges.get(key);
    if (!known) into.edges.set(key, cell);
    else {
      known.calls += cell.calls;
      known.errors += cell.errors;
      known.sketch.merge(cell.sketch);
      for (const sample of cell.samples) {
        if (known.samples.length < MAX_SAMPLES) known.samples.push(sample);
      }
      for (const [callee, n] of cell.matched) {
        known.matched.set(callee, (known.matched.get(callee) ?? 0) + n);
      }
    }
  }
}

function bucketToJSON(bucket: Bucket): TrafficBucketJSON {
  return {
    startMs: bucket.startMs,
    spanMs: bucket.spanMs,
    events: bucket.events,
    services: [...bucket.services].map(([service, cell]) => ({
      service,
      instances: [...cell.instances],
      requests: cell.requests,
      errors: cell.errors,
      sketch: cell.sketch.toJSON(),
    })),
    edges: [...bucket.edges.values()].map((cell) => ({
      caller: cell.caller,
      host: cell.host,
      calls: cell.calls,
      errors: cell.errors,
      matched: [...cell.matched],
      sketch: cell.sketch.toJSON(),
      samples: cell.samples,
    })),
  };
}

function bucketFromJSON(json: TrafficBucketJSON): Bucket {
  return {
    startMs: json.startMs,
    spanMs: json.spanMs,
    events: json.events,
    services: new Map(
      json.services.map((s) => [
        s.service,
        {
          instances: new Set(s.instances),
          requests: s.requests,
          errors: s.errors,
          sketch: LatencySketch.fromJSON(s.sketch),
        },
      ]),
    ),
    edges: new Map(
      json.edges.map((e) => [
        `${e.caller}\u0000${e.host}`,
        {
          caller: e.caller,
          host: e.host,
          calls: e.calls,
          errors: e.errors,
          matched: new Map(e.matched),
          sketch: LatencySketch.fromJSON(e.sketch),
          samples: e.samples,
        },
      ]),
    ),
  };
}

/** Sets a key in a map kept to `max` entries, the oldest forgotten first. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
