import { encodeClockEntries, withDroppedMarker } from '../clock/codec.js';
import type { ClockTick } from '../clock/tick.js';
import type { VectorClock } from '../clock/vector-clock.js';
import type { EventData, EventKind, RacewayEvent } from '../events.js';
import { nowMicros } from '../events.js';
import { newComponent, newEventId } from '../ids.js';
import { isSampledFlags, type TraceFlags } from '../propagation/trace-flags.js';
import { RecordedEvent } from '../recorded-event.js';
import type { ContextOwner } from './context-owner.js';

/** What a new {@link ExecutionContext} is made of. */
export interface ExecutionContextInit {
  /** Where the context's events go, and what it asks before propagating (the tracer). */
  owner: ContextOwner;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /**
   * The trace flags the context propagates (spec 2.2); its sampled bit decides whether the
   * context records anything (spec 5).
   */
  traceFlags: TraceFlags;
  /** The context's own clock component (`<service>#<8 hex>`). */
  component: string;
  /** Taken over as is (not copied): the context mutates it. */
  clock: VectorClock;
  clockDropped?: number;
  tracestate?: string | null;
  /** A label for a forked branch, for debugging; it does not go on the wire. */
  name?: string | null;
}

/** Where an event belongs when it is not the context's own span (client calls). */
export interface RecordOverrides {
  spanId?: string;
  parentSpanId?: string | null;
  /**
   * A clock step taken earlier with {@link ExecutionContext.tick}: the event carries that
   * snapshot and does not increment again.
   */
  tick?: ClockTick;
  /** The event's timestamp, when it was taken earlier (with the tick); default now. */
  tsUs?: number;
}

export type { ClockTick } from '../clock/tick.js';

/** A {@link ClockTick} that keeps the snapshot as text and builds the object when read. */
class ClockSnapshot implements ClockTick {
  readonly json: string;
  readonly dropped: number;
  #clock: Record<string, number> | undefined;

  constructor(json: string, dropped: number) {
    this.json = json;
    this.dropped = dropped;
  }

  get clock(): Record<string, number> {
    // JSON.parse defines own properties: even a component named `__proto__` stays an entry.
    this.#clock ??= JSON.parse(this.json) as Record<string, number>;
    return this.#clock;
  }

  get header(): string {
    return withDroppedMarker(this.json, this.dropped);
  }
}

/**
 * One sequential thread of work: the handling of one incoming request, or a branch forked with
 * {@link fork}. It owns one vector clock component; every event it records increments that
 * component and carries a snapshot of the clock (spec 3.2).
 *
 * Contexts are created by `tracer.startContext()` (server adapters do it per request) and by
 * `fork()`; applications normally only read them through {@link getCurrentContext}.
 *
 * @example
 * const ctx = tracer.startContext({});
 * ctx.record('custom', { name: 'cache_miss' });
 * ctx.clock.get(ctx.component); // 1
 */
export class ExecutionContext {
  /** The tracer that made the context, seen through what the context needs of it. */
  readonly owner: ContextOwner;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly traceFlags: TraceFlags;
  /**
   * False when the trace is not sampled (spec 5): the context records nothing and sends no
   * clock, but still propagates the trace id, flags and `tracestate` so that downstream
   * services decide alike.
   */
  readonly sampled: boolean;
  readonly component: string;
  readonly clock: VectorClock;
  /** Entries missing from this context's clock because a clock it received was truncated. */
  clockDropped: number;
  tracestate: string | null;
  readonly name: string | null;

  constructor(init: ExecutionContextInit) {
    this.owner = init.owner;
    this.traceId = init.traceId;
    this.spanId = init.spanId;
    this.parentSpanId = init.parentSpanId;
    this.traceFlags = init.traceFlags;
    this.sampled = isSampledFlags(init.traceFlags);
    this.component = init.component;
    this.clock = init.clock;
    this.clockDropped = init.clockDropped ?? 0;
    this.tracestate = init.tracestate ?? null;
    this.name = init.name ?? null;
  }

  /**
   * Records one event: increments the own component, snapshots the clock, hands the event to
   * the tracer's transport (unless the tracer is disabled) and returns it. An unsampled
   * context records nothing and returns `undefined`. Never throws.
   *
   * @example
   * ctx.record('state_write', { resource: 'orders/42', atomic: true });
   */
  record<K extends EventKind>(
    kind: K,
    data: EventData[K],
    overrides?: RecordOverrides,
  ): RacewayEvent<K> | undefined {
    if (!this.sampled) return undefined;
    const tick = overrides?.tick ?? this.tick();
    const event = new RecordedEvent<K>(
      {
        id: newEventId(),
        trace_id: this.traceId,
        span_id: overrides?.spanId ?? this.spanId,
        parent_span_id:
          overrides?.parentSpanId !== undefined ? overrides.parentSpanId : this.parentSpanId,
        service: this.owner.service,
        instance: this.owner.instance,
        component: this.component,
        ts_us: overrides?.tsUs ?? nowMicros(),
        kind,
        data,
      },
      tick,
    ) as unknown as RacewayEvent<K>;
    try {
      this.owner.emit(event as RacewayEvent);
    } catch {
      // The transport never throws; this only guards against a replaced or broken one.
    }
    return event;
  }

  /**
   * Increments the own component and returns the snapshot, for an event recorded later with
   * `record(kind, data, { tick })` (which then does not increment again). Never throws.
   *
   * @example
   * const tick = ctx.tick(); // when the response headers are written
   * res.setHeader('X-Raceway-VC', tick.header);
   * // ...when the response has finished:
   * ctx.record('response_sent', data, { tick });
   */
  tick(): ClockTick {
    try {
      this.clock.increment(this.component);
    } catch {
      // Only a counter at 2^53-1 can refuse; the event still goes out with the clock as it is.
    }
    return this.#snapshot();
  }

  /**
   * Merges a clock received from elsewhere (a response's `X-Raceway-VC`, a joined branch) into
   * this context's clock, element-wise maximum (spec 2.6). Never throws.
   *
   * @example
   * const decoded = decodeClock(response.headers.get('x-raceway-vc') ?? '');
   * if (decoded.ok) ctx.mergeClock(decoded.clock, decoded.dropped);
   */
  mergeClock(remote: VectorClock, dropped = 0): void {
    try {
      this.clock.merge(remote);
    } catch {
      return;
    }
    if (Number.isSafeInteger(dropped) && dropped > this.clockDropped) this.clockDropped = dropped;
  }

  /**
   * Starts a concurrent branch (spec 3.2): records a `fork` event here, then returns a child
   * context whose clock is this clock after that event; the child's own component appears with
   * its first event. Prefer {@link fork}, which also joins.
   */
  forkChild(name?: string | null): ExecutionContext {
    const component = newComponent(this.owner.service);
    this.record('fork', { child: component });
    return new ExecutionContext({
      owner: this.owner,
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: this.parentSpanId,
      traceFlags: this.traceFlags,
      component,
      clock: this.clock.clone(),
      clockDropped: this.clockDropped,
      tracestate: this.tracestate,
      name: name ?? null,
    });
  }

  /** Ends a branch made by {@link forkChild}: merges its clock here and records a `join` event. */
  joinChild(child: ExecutionContext): void {
    this.mergeClock(child.clock, child.clockDropped);
    this.record('join', { child: child.component });
  }

  /** The clock as an event carries it: at most 64 entries (spec 3.4), with what was left out. */
  #snapshot(): ClockSnapshot {
    const { json, dropped } = encodeClockEntries(this.clock, {
      own: this.component,
      dropped: this.clockDropped,
    });
    return new ClockSnapshot(json, dropped);
  }
}
