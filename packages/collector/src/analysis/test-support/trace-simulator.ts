import type { Event, EventKind } from '../event.js';
import { canonicalValue, digestOf } from '../sql/sql-digest.js';

/**
 * A tiny simulator of the Raceway clock rules (spec 3.2) for tests and benchmarks: contexts,
 * calls (request clock out, response clock back), forks and joins, each event incrementing its
 * context's own component. Tests describe what services do; the clocks follow from the rules,
 * never typed by hand.
 *
 * Time is simulated: `sim.at(ms)` sets the true time, and each service may run on a host whose
 * clock is off by `skewMs` (its events' timestamps are shifted by that much).
 *
 * @example
 * const sim = new TraceSimulator();
 * const order = sim.service('order');
 * const inventory = sim.service('inventory');
 * const root = sim.request(order, { route: 'POST /orders' });
 * const call = root.call(inventory, { path: '/stock/42' });
 * const handler = call.serve();
 * handler.read('stock:42', { value: 5 });
 * handler.respond();
 * call.receive();
 * root.respond();
 * sim.events; // request_received, request_sent, request_received, state_read, ...
 */
export class TraceSimulator {
  readonly events: Event[] = [];
  readonly traceId: string;
  readonly startUs: number;
  /** True (unskewed) time of the next event, in microseconds since the epoch. */
  nowUs: number;
  private readonly autoAdvanceUs: number;
  private readonly maxClockEntries: number;

  /**
   * `maxClockEntries` bounds every context's clock as spec 3.4 bounds the wire (keep the own
   * entry and the highest counters, mark the context truncated); unbounded by default.
   */
  constructor(
    options: {
      traceId?: string;
      startUs?: number;
      autoAdvanceUs?: number;
      maxClockEntries?: number;
    } = {},
  ) {
    this.traceId = options.traceId ?? hexId(32);
    this.startUs = options.startUs ?? 1_700_000_000_000_000;
    this.nowUs = this.startUs;
    this.autoAdvanceUs = options.autoAdvanceUs ?? 0;
    this.maxClockEntries = options.maxClockEntries ?? Number.POSITIVE_INFINITY;
  }

  /** A service (one instance) taking part in the trace. */
  service(
    name: string,
    options: { instance?: string; skewMs?: number; host?: string } = {},
  ): SimService {
    return {
      name,
      instance: options.instance ?? `${name}-1`,
      skewUs: Math.round((options.skewMs ?? 0) * 1000),
      host: options.host ?? `${name}:8080`,
    };
  }

  /** Sets the true time to `ms` after the simulation start. */
  at(ms: number): this {
    this.nowUs = this.startUs + Math.round(ms * 1000);
    return this;
  }

  /** Moves the true time forward by `ms`. */
  advance(ms: number): this {
    this.nowUs += Math.round(ms * 1000);
    return this;
  }

  /**
   * A request entering the trace from outside: a new context whose `request_received` has no
   * parent span (or `parentSpanId`, e.g. the span of an uninstrumented caller).
   */
  request(
    service: SimService,
    options: {
      method?: string;
      path?: string;
      route?: string;
      parentSpanId?: string | null;
      incoming?: { status: 'accepted' | 'degraded' | 'rejected' | 'absent'; reasons: string[] };
    } = {},
  ): SimContext {
    const ctx = new SimContext(this, service, hexId(16), options.parentSpanId ?? null, new Map());
    ctx.startServer({
      method: options.method ?? 'GET',
      path: options.path ?? '/',
      route: options.route ?? null,
      incoming: options.incoming ?? {
        status: options.parentSpanId ? 'accepted' : 'absent',
        reasons: [],
      },
    });
    return ctx;
  }

  /** @internal Appends an event at the current time as the service's host sees it. */
  record(
    ctx: SimContext,
    kind: EventKind,
    data: Record<string, unknown>,
    span?: { spanId: string; parentSpanId: string | null },
  ): Event {
    ctx.clock.set(ctx.component, (ctx.clock.get(ctx.component) ?? 0) + 1);
    if (ctx.clock.size > this.maxClockEntries) truncate(ctx, this.maxClockEntries);
    const clock: Record<string, number> = {};
    for (const key of [...ctx.clock.keys()].sort()) clock[key] = ctx.clock.get(key)!;
    const event: Event = {
      id: hexId(32),
      trace_id: this.traceId,
      span_id: span?.spanId ?? ctx.spanId,
      parent_span_id: span ? span.parentSpanId : ctx.parentSpanId,
      service: ctx.service.name,
      instance: ctx.service.instance,
      component: ctx.component,
      ts_us: this.nowUs + ctx.service.skewUs,
      kind,
      clock,
      data,
    };
    if (ctx.dropped > 0) event.clock_dropped = ctx.dropped;
    this.events.push(event);
    this.nowUs += this.autoAdvanceUs;
    return event;
  }
}

/** A service instance of the simulation. */
export interface SimService {
  name: string;
  instance: string;
  /** How far this host's clock is ahead of true time, in microseconds. */
  skewUs: number;
  host: string;
}

/** One execution context (a request handler or a forked branch). */
export class SimContext {
  readonly component: string;
  private serverStart: { method: string; route: string | null; tsUs: number } | null = null;
  /** Entries the context's clock is known to miss (spec 3.4); 0 when complete. */
  dropped = 0;

  constructor(
    readonly sim: TraceSimulator,
    readonly service: SimService,
    readonly spanId: string,
    readonly parentSpanId: string | null,
    readonly clock: Map<string, number>,
  ) {
    this.component = `${service.name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 55)}#${hexId(8)}`;
  }

  /** @internal */
  startServer(data: {
    method: string;
    path: string;
    route: string | null;
    incoming: unknown;
  }): Event {
    this.serverStart = { method: data.method, route: data.route, tsUs: this.sim.nowUs };
    return this.sim.record(this, 'request_received', data);
  }

  read(resource: string, seen: { value?: unknown; version?: string | number } = {}): Event {
    return this.sim.record(this, 'state_read', { resource, ...seen });
  }

  write(
    resource: string,
    written: { value?: unknown; version?: string | number; atomic?: boolean } = {},
  ): Event {
    return this.sim.record(this, 'state_write', { resource, ...written });
  }

  /**
   * A database statement as a driver reports it (`db_query`, spec 4.3): parameters and returned
   * values leave as digests (default key); `connection` defaults to one per context.
   *
   * @example
   * ctx.query('SELECT stock FROM products WHERE id = ?', { params: [42], returned: [{ stock: 5 }] });
   */
  query(
    statement: string,
    options: {
      params?: unknown[];
      returned?: Array<Record<string, unknown>>;
      system?: 'postgresql' | 'mysql' | 'sqlite';
      connection?: string;
      database?: string;
      error?: { type: string; message: string };
      /** Send raw values along with the digests. */
      values?: boolean;
    } = {},
  ): Event {
    const digest = (v: unknown) => digestOf(canonicalValue(v));
    const data: Record<string, unknown> = {
      system: options.system ?? 'mysql',
      statement,
      params: (options.params ?? []).map((v) =>
        options.values ? { digest: digest(v), value: v } : { digest: digest(v) },
      ),
      connection: options.connection ?? `db#${this.component.slice(0, 8)}`,
      database: options.database ?? 'shop',
      rows: options.returned?.length ?? null,
      duration_ms: 1,
    };
    if (options.returned) {
      data.returned = options.returned.map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, digest(v)])),
      );
    }
    if (options.error) data.error = options.error;
    return this.sim.record(this, 'db_query', data);
  }
  lock(lock: string): Event {
    return this.sim.record(this, 'lock_acquire', { lock });
  }

  unlock(lock: string): Event {
    return this.sim.record(this, 'lock_release', { lock });
  }

  error(type: string, message: string): Event {
    return this.sim.record(this, 'error', { type, message });
  }

  custom(name: string, attributes?: Record<string, unknown>): Event {
    return this.sim.record(this, 'custom', attributes ? { name, attributes } : { name });
  }

  /** Marks the context's clock as truncated: its later events carry `clock_dropped`. */
  truncate(dropped = 1): this {
    this.dropped = dropped;
    return this;
  }

  /** A concurrent branch: a `fork` event here, then a child with this clock (spec 3.2). */
  fork(): SimContext {
    const child = new SimContext(
      this.sim,
      this.service,
      this.spanId,
      this.parentSpanId,
      new Map(this.clock),
    );
    child.dropped = this.dropped;
    this.sim.record(this, 'fork', { child: child.component });
    return child;
  }

  /** Merges a finished branch's clock and records `join`. */
  join(child: SimContext): Event {
    mergeInto(this.clock, child.clock);
    this.dropped = Math.max(this.dropped, child.dropped);
    return this.sim.record(this, 'join', { child: child.component });
  }

  /** An outgoing call (`request_sent`, a client span of its own) to a service or a bare host. */
  call(target: SimService | string, options: { method?: string; path?: string } = {}): SimCall {
    const host = typeof target === 'string' ? target : target.host;
    const method = options.method ?? 'GET';
    const url = `http://${host}${options.path ?? '/'}`;
    const spanId = hexId(16);
    this.sim.record(
      this,
      'request_sent',
      { method, url, host },
      { spanId, parentSpanId: this.spanId },
    );
    return new SimCall(
      this,
      typeof target === 'string' ? null : target,
      spanId,
      new Map(this.clock),
      {
        method,
        url,
        host,
        startUs: this.sim.nowUs,
      },
    );
  }

  /** The server's response (`response_sent`), ending this context's server span. */
  respond(options: { status?: number; error?: { type: string; message: string } } = {}): Event {
    const start = this.serverStart;
    const data: Record<string, unknown> = {
      method: start?.method ?? 'GET',
      route: start?.route ?? null,
      status: options.status ?? (options.error ? 500 : 200),
      duration_ms: start ? (this.sim.nowUs - start.tsUs) / 1000 : 0,
    };
    if (options.error) data.error = options.error;
    return this.sim.record(this, 'response_sent', data);
  }
}

/** A client call in flight. */
export class SimCall {
  private served: SimContext | null = null;

  constructor(
    readonly caller: SimContext,
    readonly target: SimService | null,
    readonly spanId: string,
    /** The clock the request carried. */
    readonly sentClock: Map<string, number>,
    private readonly request: { method: string; url: string; host: string; startUs: number },
  ) {}

  /** The callee starts handling the call: a new context, clock = request clock + own entry. */
  serve(options: { route?: string; service?: SimService } = {}): SimContext {
    const service = options.service ?? this.target;
    if (service === null)
      throw new Error('serve(): this call went to a bare host; pass { service }');
    const ctx = new SimContext(
      this.caller.sim,
      service,
      hexId(16),
      this.spanId,
      new Map(this.sentClock),
    );
    ctx.dropped = this.caller.dropped;
    ctx.startServer({
      method: this.request.method,
      path: new URL(this.request.url).pathname,
      route: options.route ?? null,
      incoming: { status: 'accepted', reasons: [] },
    });
    this.served = ctx;
    return ctx;
  }

  /**
   * The response arrives (`response_received`): the callee's clock is merged first when it
   * answered (spec 2.6). `error` without `status` is a network error.
   */
  receive(options: { status?: number; error?: { type: string; message: string } } = {}): Event {
    const callee = this.served;
    if (callee !== null && !options.error) {
      mergeInto(this.caller.clock, callee.clock);
      this.caller.dropped = Math.max(this.caller.dropped, callee.dropped);
    }
    const data: Record<string, unknown> = {
      method: this.request.method,
      url: this.request.url,
      host: this.request.host,
      duration_ms: (this.caller.sim.nowUs - this.request.startUs) / 1000,
      remote_clock: callee !== null && !options.error,
    };
    if (options.status !== undefined || !options.error) data.status = options.status ?? 200;
    if (options.error) data.error = options.error;
    return this.caller.sim.record(this.caller, 'response_received', data, {
      spanId: this.spanId,
      parentSpanId: this.caller.spanId,
    });
  }
}

function truncate(ctx: SimContext, max: number): void {
  const others = [...ctx.clock].filter(([key]) => key !== ctx.component);
  others.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [key] of others.slice(max - 1)) ctx.clock.delete(key);
  ctx.dropped += others.length - (max - 1);
}

function mergeInto(target: Map<string, number>, source: Map<string, number>): void {
  for (const [key, value] of source) if ((target.get(key) ?? 0) < value) target.set(key, value);
}

let idCounter = 0;

/** Unique, deterministic lowercase hex ids (never all zero). */
export function hexId(length: number): string {
  idCounter++;
  return idCounter.toString(16).padStart(length, '0').slice(-length);
}
