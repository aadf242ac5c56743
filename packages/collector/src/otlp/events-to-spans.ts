import { isStructuralEvent } from '../analysis/inferred-order.js';
import type { StoredEvent } from '../event.js';

/**
 * Raceway events as OTLP spans (the OTLP/JSON shape that proto.ts encodes; ids as base64):
 * a server span per `request_received`/`response_sent` span id, a client span per
 * `request_sent`/`response_received`, an internal span for any other span id. Every event of a
 * span is a span event carrying its vector clock (`raceway.clock`, the canonical encoding of
 * spec 3.3), its id and its data; the span's own clocks at its start and end are attributes
 * (`raceway.clock.start`, `raceway.clock.end`), with the context's component.
 *
 * Events that came in over OTLP are left out: they are OpenTelemetry's own spans, which their
 * SDK exports itself.
 */
export function eventsToExportRequest(events: readonly StoredEvent[]): unknown {
  const spans = new Map<string, StoredEvent[]>();
  for (const event of events) {
    if (isStructuralEvent(event)) continue;
    const key = `${event.trace_id}/${event.span_id}`;
    const list = spans.get(key);
    if (list) list.push(event);
    else spans.set(key, [event]);
  }
  const resources = new Map<string, { service: string; instance: string; spans: unknown[] }>();
  for (const list of spans.values()) {
    list.sort((a, b) => a.ts_us - b.ts_us);
    const span = toSpan(list);
    const first = list[0]!;
    const key = `${first.service}\u0000${first.instance}`;
    let resource = resources.get(key);
    if (!resource) {
      resource = { service: first.service, instance: first.instance, spans: [] };
      resources.set(key, resource);
    }
    resource.spans.push(span);
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

/** How many spans a list of events makes (what the exporter counts and batches by). */
export function spanCount(events: readonly StoredEvent[]): number {
  const ids = new Set<string>();
  for (const event of events) {
    if (!isStructuralEvent(event)) ids.add(`${event.trace_id}/${event.span_id}`);
  }
  return ids.size;
}

const KIND_SERVER = 2;
const KIND_CLIENT = 3;
const KIND_INTERNAL = 1;

function toSpan(events: StoredEvent[]): unknown {
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

function base64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

function nanos(us: number): string {
  return (BigInt(us) * 1000n).toString();
}

/** An OTLP KeyValue; objects and arrays travel as their JSON text. */
function kv(key: string, value: unknown): unknown {
  if (typeof value === 'string') return { key, value: { stringValue: value } };
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { key, value: { intValue: String(value) } }
      : { key, value: { doubleValue: value } };
  }
  return { key, value: { stringValue: JSON.stringify(value) ?? 'null' } };
}
