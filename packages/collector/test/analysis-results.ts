import { createHash } from 'node:crypto';
import type {
  BrokenChain,
  CriticalPath,
  Race,
  RaceAccess,
  RaceGroup,
  RaceKind,
  TraceDiagnostics,
} from '../src/analysis/index.js';
import type { StoredEvent } from '../src/event.js';

// Analysis results of the analysis module's types, made up from a few events: for the
// substitute engines of tests that check the collector's wiring (scheduling, storage, filters,
// pagination) rather than the analysis itself. Their JSON is what the API's schemas declare.

/** Diagnostics with nothing found, or with the findings given. */
export function diagnostics(findings: Partial<TraceDiagnostics> = {}): TraceDiagnostics {
  return {
    brokenChains: [],
    analysisLimits: [],
    clockSkew: [],
    errors: [],
    summary: {
      traces: 1,
      events: 0,
      spans: 0,
      services: [],
      truncatedClockEvents: 0,
      slowestServices: [],
    },
    ...findings,
  };
}

/** A critical path that names the events' services, in order of appearance, and no span. */
export function criticalPath(events: StoredEvent[], totalMs = 0): CriticalPath {
  const first = events[0]!;
  return {
    rootSpanId: first.span_id,
    traceStartUs: first.ts_us,
    totalMs,
    segments: [],
    sections: [],
    services: [...new Set(events.map((e) => e.service))].map((service) => ({
      service,
      ms: 0,
      percent: 0,
    })),
    biggestContributor: null,
    skewAdjusted: false,
  };
}

/** `callee_missing` for a call from `event`'s span to `host`. */
export function calleeMissing(event: StoredEvent, host: string): BrokenChain {
  return {
    kind: 'callee_missing',
    service: event.service,
    spanId: event.span_id,
    eventId: event.id,
    traceId: event.trace_id,
    host,
    count: 1,
    explanation: `${event.service} called ${host}, which reported nothing`,
  };
}

function access(event: StoredEvent): RaceAccess {
  return {
    eventId: event.id,
    traceId: event.trace_id,
    kind: event.kind === 'state_read' ? 'state_read' : 'state_write',
    service: event.service,
    instance: event.instance,
    component: event.component,
    spanId: event.span_id,
    tsUs: event.ts_us,
    clock: event.clock,
    atomic: false,
    locks: [],
  };
}

/** A group of one race between two accesses (`a` before `b`), with a stable id. */
export function raceGroup(
  kind: RaceKind,
  scope: 'trace' | 'cross_trace',
  a: StoredEvent,
  b: StoredEvent,
): RaceGroup {
  const id = createHash('sha256').update(`${scope}\n${a.id}\n${b.id}`).digest('hex').slice(0, 32);
  const resource = String(b.data.resource);
  const traceIds = [...new Set([a.trace_id, b.trace_id])];
  const services = [...new Set([a.service, b.service])];
  const explanation = `${kind} on ${resource} between ${a.service} and ${b.service}`;
  const example: Race = {
    id,
    kind,
    scope,
    resource,
    confidence: 'certain',
    evidence: scope === 'trace' ? 'clock' : 'timing',
    accesses: [access(a), access(b)],
    services,
    traceIds,
    explanation,
  };
  return {
    id,
    scope,
    kind,
    resource,
    label: resource,
    sides: [
      { service: a.service, route: null },
      { service: b.service, route: null },
    ],
    count: 1,
    countExact: true,
    confidence: 'certain',
    evidence: example.evidence,
    firstTsUs: a.ts_us,
    lastTsUs: b.ts_us,
    traceIds,
    explanation,
    examples: [example],
  };
}
