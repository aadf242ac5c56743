import type { Span } from './types.js';

// The difference of two traces of one route: their spans matched by where they sit (the path
// of service and operation from the root: ids and timestamps differ between traces, the
// shape of the call tree does not), each service's own time, side by side.

/** What a span does, without what differs from one request to the next (ids in URLs). */
export function operationOf(span: Span): string {
  if (span.kind === 'client') return `${span.method ?? ''} ${span.host ?? span.name}`.trim();
  if (span.route) return `${span.method ?? ''} ${span.route}`.trim();
  return span.name;
}

/** One place in the call tree, with the spans of each trace found there. */
export interface ComparedRow {
  /** `frontend: GET /checkout › frontend: POST inventory:8080 › inventory: POST /reserve`. */
  path: string;
  depth: number;
  service: string;
  operation: string;
  countA: number;
  countB: number;
  /** Summed durations of the spans at this place, per trace (ms). */
  msA: number;
  msB: number;
  change: 'same' | 'added' | 'missing';
}

export interface ServiceTime {
  service: string;
  /** Time the service's spans spent themselves (not in their children), per trace (ms). */
  msA: number;
  msB: number;
  /** Whether the service has spans in each trace. */
  inA: boolean;
  inB: boolean;
}

export interface TraceComparison {
  rows: ComparedRow[];
  services: ServiceTime[];
  added: number;
  missing: number;
}

interface Place {
  path: string;
  depth: number;
  service: string;
  operation: string;
  count: number;
  ms: number;
}

function places(roots: Span[]): Map<string, Place> {
  const out = new Map<string, Place>();
  const visit = (span: Span, parentPath: string, depth: number) => {
    const operation = operationOf(span);
    const step = `${span.service}: ${operation}`;
    const path = parentPath ? `${parentPath} › ${step}` : step;
    const place = out.get(path);
    if (place) {
      place.count += 1;
      place.ms += span.duration_ms;
    } else {
      out.set(path, {
        path,
        depth,
        service: span.service,
        operation,
        count: 1,
        ms: span.duration_ms,
      });
    }
    for (const child of span.children) visit(child, path, depth + 1);
  };
  for (const root of roots) visit(root, '', 0);
  return out;
}

/** A span's own time: its duration less the union of its children's intervals (ms). */
export function selfMs(span: Span): number {
  const start = span.start_us;
  const end = start + span.duration_ms * 1000;
  const intervals = span.children
    .map((c) => [Math.max(start, c.start_us), Math.min(end, c.start_us + c.duration_ms * 1000)])
    .filter(([a, b]) => b! > a!)
    .sort((x, y) => x[0]! - y[0]!);
  let covered = 0;
  let reach = start;
  for (const [a, b] of intervals) {
    const from = Math.max(a!, reach);
    if (b! > from) {
      covered += b! - from;
      reach = b!;
    }
  }
  return Math.max(0, (end - start - covered) / 1000);
}

function serviceTimes(roots: Span[]): Map<string, number> {
  const out = new Map<string, number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const span = stack.pop()!;
    out.set(span.service, (out.get(span.service) ?? 0) + selfMs(span));
    stack.push(...span.children);
  }
  return out;
}

/** Trace B against trace A: "added" places are B's alone (or more often in B), "missing" A's. */
export function compareTraces(a: Span[], b: Span[]): TraceComparison {
  const placesA = places(a);
  const placesB = places(b);
  const rows: ComparedRow[] = [];
  // A's order first, then what only B has, each after its parent where possible.
  const paths = [...placesA.keys(), ...[...placesB.keys()].filter((p) => !placesA.has(p))];
  paths.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  let added = 0;
  let missing = 0;
  for (const path of paths) {
    const pa = placesA.get(path);
    const pb = placesB.get(path);
    const place = (pa ?? pb)!;
    const countA = pa?.count ?? 0;
    const countB = pb?.count ?? 0;
    const change = countB > countA ? 'added' : countB < countA ? 'missing' : 'same';
    if (change === 'added') added += countB - countA;
    if (change === 'missing') missing += countA - countB;
    rows.push({
      path,
      depth: place.depth,
      service: place.service,
      operation: place.operation,
      countA,
      countB,
      msA: pa?.ms ?? 0,
      msB: pb?.ms ?? 0,
      change,
    });
  }
  const timesA = serviceTimes(a);
  const timesB = serviceTimes(b);
  const services = [...new Set([...timesA.keys(), ...timesB.keys()])].sort().map((service) => ({
    service,
    msA: timesA.get(service) ?? 0,
    msB: timesB.get(service) ?? 0,
    inA: timesA.has(service),
    inB: timesB.has(service),
  }));
  return { rows, services, added, missing };
}
