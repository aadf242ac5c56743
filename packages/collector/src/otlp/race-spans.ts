import { createHash } from 'node:crypto';
import type { RaceGroup } from '../analysis/index.js';
import type { RaceAccess } from '../analysis/race.js';
import { base64, kv, nanos } from './otlp-values.js';

/**
 * One side of a race as the export writes it: a span holding racing accesses, and the span of
 * the other side. It becomes a `raceway.race` span event on its span, with a link to the other
 * side's span ({@link attachRace}), or, when that span is not in the request, a zero-duration
 * span `raceway.race` of its own, child of it ({@link raceSpan}).
 */
export interface RaceAnnotation {
  /** Unique per race, span and other side: what the exporter remembers as sent. */
  key: string;
  traceId: string;
  spanId: string;
  service: string;
  instance: string;
  /** The latest of this side's accesses in the span. */
  tsUs: number;
  other: { traceId: string; spanId: string };
  /** The event's attributes (OTLP KeyValues). */
  attributes: unknown[];
  /** The links' attributes: the race's id and kind. */
  linkAttributes: unknown[];
}

/** The name of the span events, and of the spans of their own, that carry races. */
export const RACE_EVENT = 'raceway.race';

/**
 * The annotations of a race group: for each of its examples (at most 3), each span holding an
 * access of one side, pointing at the span of the other side's last access (the write). A
 * two-access race is `[a, b]`, a lost update `[read A, write A, read B, write B]`: the first
 * half is one side. `uiUrl`, when given, is where the Raceway UI is served: each annotation
 * links to its race there, in the annotated span's trace.
 */
export function raceAnnotations(group: RaceGroup, uiUrl?: string): RaceAnnotation[] {
  const out = new Map<string, RaceAnnotation>();
  for (const example of group.examples) {
    const half = example.accesses.length / 2;
    const sides = [example.accesses.slice(0, half), example.accesses.slice(half)];
    for (const [index, side] of sides.entries()) {
      const otherSide = sides[1 - index]!;
      const other = otherSide[otherSide.length - 1];
      if (!other) continue;
      for (const spanId of new Set(side.map((a) => a.spanId))) {
        const own = side.filter((a) => a.spanId === spanId);
        const last = own[own.length - 1]!;
        const key = `${last.traceId}/${spanId}/${group.id}/${other.traceId}/${other.spanId}`;
        if (out.has(key)) continue;
        const attributes = [
          kv('raceway.race.id', group.id),
          kv('raceway.race.kind', example.kind),
          kv('raceway.race.scope', example.scope),
          kv('raceway.race.resource', group.resource),
          kv('raceway.race.label', group.label),
          kv('raceway.race.confidence', example.confidence),
          kv('raceway.race.evidence', example.evidence),
          ...(example.outcome ? [kv('raceway.race.outcome', example.outcome)] : []),
          kv('raceway.race.explanation', example.explanation),
          kv('raceway.race.event_ids', own.map((a) => a.eventId).join(',')),
          kv('raceway.race.other.trace_id', other.traceId),
          kv('raceway.race.other.span_id', other.spanId),
          kv('raceway.race.other.service', other.service),
        ];
        if (uiUrl) {
          attributes.push(kv('raceway.race.url', raceUrl(uiUrl, last.traceId, example)));
        }
        out.set(key, {
          key,
          traceId: last.traceId,
          spanId,
          service: last.service,
          instance: last.instance,
          tsUs: last.tsUs,
          other: { traceId: other.traceId, spanId: other.spanId },
          attributes,
          linkAttributes: attributes.slice(0, 2),
        });
      }
    }
  }
  return [...out.values()];
}

/** The race in the UI's trace view, its accesses in that trace marked (as the UI links it). */
function raceUrl(
  uiUrl: string,
  traceId: string,
  example: { id: string; accesses: RaceAccess[] },
): string {
  const url = new URL(`traces/${traceId}`, uiUrl.endsWith('/') ? uiUrl : `${uiUrl}/`);
  const events = example.accesses.filter((a) => a.traceId === traceId).map((a) => a.eventId);
  url.searchParams.set('events', events.join(','));
  url.searchParams.set('race', example.id);
  return url.href;
}

/** An OTLP span as events-to-spans.ts builds it: the fields this module adds to. */
export interface SpanWithRaces {
  events: unknown[];
  links?: Array<{ traceId: string; spanId: string; attributes: unknown[] }>;
}

/** Adds a race to its span: the `raceway.race` event, and a link to the other side's span. */
export function attachRace(span: SpanWithRaces, race: RaceAnnotation): void {
  span.events.push(raceEvent(race));
  if (race.other.traceId === race.traceId && race.other.spanId === race.spanId) return;
  span.links ??= [];
  const links = span.links;
  const traceId = base64(race.other.traceId);
  const spanId = base64(race.other.spanId);
  if (links.some((l) => l.traceId === traceId && l.spanId === spanId)) return;
  links.push({ traceId, spanId, attributes: race.linkAttributes });
}

/**
 * A race whose span is not in the request (found after its trace was sent, or on a span its
 * OpenTelemetry SDK exports itself): a zero-duration `raceway.race` span in that trace, child
 * of the racing span and linked to both sides, with the race as its attributes and event. Its
 * id derives from the annotation, so sending it again replaces rather than adds.
 */
export function raceSpan(race: RaceAnnotation): unknown {
  const spanId = createHash('sha256').update(race.key).digest('hex').slice(0, 16);
  const link = (traceId: string, id: string) => ({
    traceId: base64(traceId),
    spanId: base64(id),
    attributes: race.linkAttributes,
  });
  return {
    traceId: base64(race.traceId),
    spanId: base64(spanId),
    parentSpanId: base64(race.spanId),
    name: RACE_EVENT,
    kind: 1,
    startTimeUnixNano: nanos(race.tsUs),
    endTimeUnixNano: nanos(race.tsUs),
    attributes: race.attributes,
    events: [raceEvent(race)],
    links: [link(race.traceId, race.spanId), link(race.other.traceId, race.other.spanId)],
    status: {},
  };
}

function raceEvent(race: RaceAnnotation): unknown {
  return { timeUnixNano: nanos(race.tsUs), name: RACE_EVENT, attributes: race.attributes };
}
