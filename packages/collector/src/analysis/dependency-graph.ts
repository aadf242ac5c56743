import { compareIds } from './accesses.js';
import { getOrCreate } from './collections.js';
import { type Event, isFailure, numberField, stringField } from './event.js';
import { LatencySketch } from './latency-sketch.js';

/** Latency percentiles in ms (null without data). */
export interface LatencySummary {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** A service, or a host that answered calls without reporting spans. */
export interface DependencyNode {
  name: string;
  uninstrumented: boolean;
}

/** Calls from one service to another (or to an uninstrumented host). */
export interface DependencyEdge {
  from: string;
  to: string;
  calls: number;
  /** Calls answered with a status of 500 or more, or failed at the network level. */
  errors: number;
  errorRate: number;
  /**
   * Calls to `to`'s host that no server span answered although other calls to that host were
   * answered by `to`: broken chains (lost events, headers that did not get through).
   */
  unmatched: number;
  /** Client-side latency of the calls (the caller's view, network included). */
  latencyMs: LatencySummary;
}

/** Which services call which. */
export interface DependencyGraph {
  nodes: DependencyNode[];
  edges: DependencyEdge[];
}

export function summarize(sketch: LatencySketch): LatencySummary {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    p50: round(sketch.quantile(0.5)),
    p95: round(sketch.quantile(0.95)),
    p99: round(sketch.quantile(0.99)),
  };
}

/**
 * The dependency graph of many traces (DESIGN 4): each client call (`request_sent` /
 * `response_received`, one client span id) is matched with the server span whose parent span
 * id is that client span id, in the same trace; matched calls give an edge caller -> callee
 * with call and error counts and latency percentiles (a {@link LatencySketch} per edge). A call
 * no server span answered goes to the service that answered other calls to the same host
 * (counted as `unmatched`), or, when no call to that host was ever answered, to a node
 * `{ name: host, uninstrumented: true }`.
 *
 * Only the four request/response kinds are read; others are ignored. Linear in the events.
 *
 * @example
 * const graph = buildDependencyGraph(events);
 * graph.edges[0]; // { from: 'order', to: 'inventory', calls: 120, errors: 2, errorRate: 0.0167, unmatched: 0, latencyMs: { p50: 12.1, ... } }
 */
export function buildDependencyGraph(events: readonly Event[]): DependencyGraph {
  const clientStarts = new Map<string, Event>();
  const clientEnds = new Map<string, Event>();
  const calleeOf = new Map<string, string>();
  const services = new Set<string>();
  for (const event of events) {
    switch (event.kind) {
      case 'request_sent':
        clientStarts.set(`${event.trace_id}:${event.span_id}`, event);
        services.add(event.service);
        break;
      case 'response_received':
        clientEnds.set(`${event.trace_id}:${event.span_id}`, event);
        services.add(event.service);
        break;
      case 'request_received':
      case 'response_sent':
        services.add(event.service);
        if (event.parent_span_id !== null)
          calleeOf.set(`${event.trace_id}:${event.parent_span_id}`, event.service);
        break;
      default:
        break;
    }
  }
  interface EdgeAcc {
    calls: number;
    errors: number;
    unmatched: number;
    sketch: LatencySketch;
  }
  const edges = new Map<string, EdgeAcc>();
  const hostService = new Map<string, Map<string, number>>();
  const unanswered: Array<{
    caller: string;
    host: string;
    failed: boolean;
    latency: number | undefined;
  }> = [];
  const count = (
    from: string,
    to: string,
    failed: boolean,
    latency: number | undefined,
    unmatched: boolean,
  ) => {
    const edge = getOrCreate(edges, `${from}\u0000${to}`, () => ({
      calls: 0,
      errors: 0,
      unmatched: 0,
      sketch: new LatencySketch(),
    }));
    edge.calls++;
    if (failed) edge.errors++;
    if (unmatched) edge.unmatched++;
    if (latency !== undefined) edge.sketch.add(latency);
  };
  const keys = new Set([...clientStarts.keys(), ...clientEnds.keys()]);
  for (const key of keys) {
    const start = clientStarts.get(key);
    const end = clientEnds.get(key);
    const any = (start ?? end)!;
    const host = stringField(any, 'host') ?? '';
    const failed = end !== undefined && isFailure(end);
    const latency =
      end === undefined
        ? undefined
        : (numberField(end, 'duration_ms') ??
          (start ? (end.ts_us - start.ts_us) / 1000 : undefined));
    const callee = calleeOf.get(key);
    if (callee === undefined) {
      unanswered.push({ caller: any.service, host, failed, latency });
      continue;
    }
    const seen = getOrCreate(hostService, host, () => new Map<string, number>());
    seen.set(callee, (seen.get(callee) ?? 0) + 1);
    count(any.service, callee, failed, latency, false);
  }
  const uninstrumented = new Set<string>();
  for (const call of unanswered) {
    const answeredBy = mostCommon(hostService.get(call.host));
    if (answeredBy !== undefined) count(call.caller, answeredBy, call.failed, call.latency, true);
    else {
      uninstrumented.add(call.host);
      count(call.caller, call.host, call.failed, call.latency, false);
    }
  }
  const nodes: DependencyNode[] = [
    ...[...services].map((name) => ({ name, uninstrumented: false })),
    // A host named like a service stays that service's node.
    ...[...uninstrumented]
      .filter((host) => !services.has(host))
      .map((name) => ({ name, uninstrumented: true })),
  ].sort((a, b) => compareIds(a.name, b.name));
  const edgeList: DependencyEdge[] = [...edges].map(([key, acc]) => {
    const [from, to] = key.split('\u0000') as [string, string];
    return {
      from,
      to,
      calls: acc.calls,
      errors: acc.errors,
      errorRate: Math.round((acc.errors / acc.calls) * 10_000) / 10_000,
      unmatched: acc.unmatched,
      latencyMs: summarize(acc.sketch),
    };
  });
  edgeList.sort(
    (a, b) => b.calls - a.calls || compareIds(a.from, b.from) || compareIds(a.to, b.to),
  );
  return { nodes, edges: edgeList };
}

function mostCommon(counts: Map<string, number> | undefined): string | undefined {
  if (counts === undefined) return undefined;
  let best: string | undefined;
  let bestCount = 0;
  for (const [name, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== undefined && name < best)) {
      best = name;
      bestCount = n;
    }
  }
  return best;
}
