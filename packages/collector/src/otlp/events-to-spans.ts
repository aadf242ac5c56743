import { isStructuralEvent } from '../analysis/inferred-order.js';
import type { StoredEvent } from '../event.js';
import { base64, kv, nanos } from './otlp-values.js';
import { attachRace, type RaceAnnotation, raceSpan, type SpanWithRaces } from './race-spans.js';

/**
 * Raceway events as OTLP spans (the OTLP/JSON shape that proto.ts encodes; ids as base64):
 * a server span per `request_received`/`response_sent` span id, a client span per
 * `request_sent`/`response_received`, an internal span for any other span id. Every event of a
 * span is a span event carrying its vector clock (`raceway.clock`, the canonical encoding of
 * spec 3.3), its id and its data; the span's own clocks at its start and end are attributes
 * (`raceway.clock.start`, `raceway.clock.end`), with the context's component.
 *
 * Races go on the span they name (race-spans.ts: a `raceway.race` event and a link to the
 * other side); a race whose span is not among these events becomes a `raceway.race` span of
 * its own.
 *
 * Events that came in over OTLP are left out: they are OpenTelemetry's own spans, which their
 * SDK exports itself.
 */
export function eventsToExportRequest(
  events: readonly StoredEvent[],
  races: readonly RaceAnnotation[] = [],
): unknown {
  const spans = new Map<string, StoredEvent[]>();
  for (const event of events) {
    if (isStructuralEvent(event)) continue;
    const key = `${event.trace_id}/${event.span_id}`;
    const list = spans.get(key);
    if (list) list.push(event);
    else spans.set(key, [event]);
  }
  const resources = new Map<string, { service: string; instance: string; spans: unknown[] }>();
  const add = (service: string, instance: string, span: unknown) => {
    const key = `${service}\u0000${instance}`;
    let resource = resources.get(key);
    if (!resource) {
      resource = { service, instance, spans: [] };
      resources.set(key, resource);
    }
    resource.spans.push(span);
  };
  const built = new Map<string, SpanWithRaces>();
  for (const [key, list] of spans) {
    list.sort((a, b) => a.ts_us - b.ts_us);
    const span = toSpan(list);
    built.set(key, span);
    add(list[0]!.service, list[0]!.instance, span);
  }
  for (const race of races) {
    const span = built.get(`${race.traceId}/${race.spanId}`);
    if (span) attachRace(span, race);
    else add(race.service, race.instance, raceSpan(race));
  }
  return {
    resourceSpans: [...resources.values()].map((r) => ({
      resource: {
        attributes: [kv('service.name', r.service), kv('service.instance.id', r.instance)],
      },
      scopeSpans: [{ scope: { name: '@raceway/collector' }, spans: r.spans }],
    })),
  };
}

/**
 * How many spans a list of events and races makes (what the exporter counts and batches by):
 * the events' span ids, and a span for each race whose span is not among them.
 */
export function spanCount(
  events: readonly StoredEvent[],
  races: readonly RaceAnnotation[] = [],
): number {
  const ids = new Set<string>();
  for (const event of events) {
    if (!isStructuralEvent(event)) ids.add(`${event.trace_id}/${event.span_id}`);
  }
  let raceSpans = 0;
  for (const race of races) if (!ids.has(`${race.traceId}/${race.spanId}`)) raceSpans++;
  return ids.size + raceSpans;
}

const KIND_SERVER = 2;
const KIND_CLIENT = 3;
const KIND_INTERNAL = 1;

function toSpan(events: StoredEvent[]): SpanWithRaces & Record<string, unknown> {
  const find = (kind: string) => events.find((e) => e.kind === kind);
  const serverStart = find('request_received');
  const serverEnd = find('response_sent');
  const clientStart = find('request_sent');
  const clientEnd = find('response_received');
  const isServer = serverStart !== undefined || serverEnd !== undefined;
  const isClient = !isServer && (clientStart !== undefined || clientEnd !== undefined);
  const start = (isServer ? serverStart : isClient ? clientStart : undefined) ?? events[0]!;
  const end =
    (isServer ? serverEnd : isClient ? clientEnd : undefined) ?? events[events.length - 1]!;
  const data = { ...start.data, ...end.data };
  const method = typeof data.method === 'string' ? data.method : undefined;
  const attributes = [
    kv('raceway.component', start.component),
    kv('raceway.clock.start', canonicalClock(start.clock)),
    kv('raceway.clock.end', canonicalClock(end.clock)),
  ];
  let name = start.service;
  if (isServer) {
    const route = typeof data.route === 'string' ? data.route : undefined;
    const path = typeof data.path === 'string' ? data.path : undefined;
    name = `${method ?? ''} ${route ?? path ?? ''}`.trim();
    if (method) attributes.push(kv('http.request.method', method));
    if (route) attributes.push(kv('http.route', route));
    if (path) attributes.push(kv('url.path', path));
  } else if (isClient) {
    name = method ?? 'call';
    if (method) attributes.push(kv('http.request.method', method));
    if (typeof data.url === 'string') attributes.push(kv('url.full', data.url));
    if (typeof data.host === 'string') attributes.push(kv('server.address', data.host));
  }
  if (typeof data.status === 'number')
    attributes.push(kv('http.response.status_code', data.status));
  const error = data.error as { type?: unknown; message?: unknown } | undefined;
  const failed =
    (typeof data.status === 'number' && data.status >= 500) ||
    (error !== undefined && error !== null);
  const dropped = events.find((e) => e.clock_dropped !== undefined)?.clock_dropped;
  if (dropped !== undefined) attributes.push(kv('raceway.clock_dropped', dropped));
  const startUs = isClient || isServer ? start.ts_us : Math.min(...events.map((e) => e.ts_us));
  const endUs = Math.max(end.ts_us, startUs);
  return {
    traceId: base64(start.trace_id),
    spanId: base64(start.span_id),
    ...(start.parent_span_id ? { parentSpanId: base64(start.parent_span_id) } : {}),
    name: name || start.service,
    kind: isServer ? KIND_SERVER : isClient ? KIND_CLIENT : KIND_INTERNAL,
    startTimeUnixNano: nanos(startUs),
    endTimeUnixNano: nanos(endUs),
    attributes,
    events: events.map((event) => ({
      timeUnixNano: nanos(event.ts_us),
      name:
        event.kind === 'custom' && typeof event.data.name === 'string'
          ? event.data.name
          : event.kind,
      attributes: [
        kv('raceway.event_id', event.id),
        kv('raceway.kind', event.kind),
        kv('raceway.clock', canonicalClock(event.clock)),
        ...Object.entries(event.data).map(([key, value]) => kv(`raceway.data.${key}`, value)),
      ],
    })),
    status: failed
      ? {
          code: 2,
          message:
            typeof error?.message === 'string' ? error.message : `status ${String(data.status)}`,
        }
      : {},
  };
}

/** The canonical clock encoding (spec 3.3): keys in byte order, no whitespace. */
export function canonicalClock(clock: Record<string, number>): string {
  const keys = Object.keys(clock).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${clock[k]}`).join(',')}}`;
}
