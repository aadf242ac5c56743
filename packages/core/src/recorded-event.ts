import type { ClockTick } from './clock/tick.js';
import type { EventCommon, EventData, EventKind, RacewayEvent } from './events.js';

/** The fields of a {@link RecordedEvent} other than its clock. */
export type RecordedEventFields<K extends EventKind = EventKind> = Omit<
  EventCommon,
  'clock' | 'clock_dropped'
> & { kind: K; data: EventData[K] };

/**
 * An event as `ExecutionContext.record` makes it: the fields of `RacewayEvent`, with the clock
 * snapshot held as the clock step it was recorded with: canonical JSON text (spec 3.3), which is
 * also what goes on the wire.
 *
 * Why not a plain object: every request has a clock component of its own, so a snapshot object
 * has keys never seen before, and V8 internalises each new key string, the largest single cost
 * on the path of a traced request before this (measured with node's own request and response
 * objects and no network: about a sixth of the time Raceway added). The `clock` object is built
 * (by the tick) when something reads it; the transport never does, it writes
 * {@link RecordedEvent.toWireJSON}.
 */
export class RecordedEvent<K extends EventKind = EventKind> {
  readonly id: string;
  readonly trace_id: string;
  readonly span_id: string;
  readonly parent_span_id: string | null;
  readonly service: string;
  readonly instance: string;
  readonly component: string;
  readonly ts_us: number;
  readonly kind: K;
  readonly data: EventData[K];
  /** Present when the clock was truncated: how many entries are missing. */
  // Declared, not defined: an own property only when the clock was truncated (as in the schema).
  declare readonly clock_dropped?: number;
  readonly #tick: ClockTick;

  constructor(fields: RecordedEventFields<K>, tick: ClockTick) {
    this.id = fields.id;
    this.trace_id = fields.trace_id;
    this.span_id = fields.span_id;
    this.parent_span_id = fields.parent_span_id;
    this.service = fields.service;
    this.instance = fields.instance;
    this.component = fields.component;
    this.ts_us = fields.ts_us;
    this.kind = fields.kind;
    this.data = fields.data;
    if (tick.dropped > 0) this.clock_dropped = tick.dropped;
    this.#tick = tick;
  }

  /** The clock after this event's own increment, at most 64 entries, keys in canonical order. */
  get clock(): Record<string, number> {
    return this.#tick.clock as Record<string, number>;
  }

  /** The event as the schema describes it (`JSON.stringify(event)` gives the wire form). */
  toJSON(): RacewayEvent<K> {
    const json = { ...this.#head(), clock: this.clock } as RacewayEvent<K> & {
      clock_dropped?: number;
    };
    if (this.clock_dropped !== undefined) json.clock_dropped = this.clock_dropped;
    json.data = this.data;
    return json;
  }

  /**
   * The event's JSON text (`spec/schemas/event.schema.json`), the clock written from its text.
   * Throws what `JSON.stringify` throws for a value JSON cannot represent.
   */
  toWireJSON(): string {
    // One JSON.stringify of the fixed-shape fields (V8's fast path), then the clock text and
    // the data: a template with a JSON.stringify per string field measured no faster.
    const head = JSON.stringify(this.#head());
    const dropped =
      this.clock_dropped === undefined ? '' : `,"clock_dropped":${this.clock_dropped}`;
    return `${head.slice(0, -1)},"clock":${this.#tick.json}${dropped},"data":${JSON.stringify(this.data)}}`;
  }

  /** The fields that come before the clock, in the schema's order. */
  #head(): Omit<RecordedEventFields<K>, 'data'> {
    return {
      id: this.id,
      trace_id: this.trace_id,
      span_id: this.span_id,
      parent_span_id: this.parent_span_id,
      service: this.service,
      instance: this.instance,
      component: this.component,
      ts_us: this.ts_us,
      kind: this.kind,
    };
  }
}

/** The JSON text of an event, recorded here or built elsewhere. */
export function eventToJSON(event: RacewayEvent | RecordedEvent): string {
  return event instanceof RecordedEvent ? event.toWireJSON() : JSON.stringify(event);
}
