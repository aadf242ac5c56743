import {
  type ExecutionContext,
  type RacewayEvent,
  type RacewayOptions,
  runInContext,
  Tracer,
  Transport,
} from '@raceway/core/integration';

/** A transport that keeps events in memory instead of sending them. */
class CapturingTransport extends Transport {
  readonly events: RacewayEvent[] = [];

  constructor() {
    super({
      endpoint: new URL('http://127.0.0.1:9/v1/events'),
      apiKey: null,
      batchSize: 200,
      flushIntervalMs: 60_000,
      maxQueueSize: 10_000,
      requestTimeoutMs: 1000,
    });
  }

  override enqueue(event: RacewayEvent): void {
    this.events.push(event);
  }
}

/** What {@link capture} gives a test. */
export interface Capture {
  tracer: Tracer;
  /** A sampled context of the tracer, where `run` runs by default. */
  ctx: ExecutionContext;
  /** Every event recorded, in order. */
  events: RacewayEvent[];
  /** The db_query events recorded so far. */
  queries(): Array<RacewayEvent<'db_query'>>;
  run<T>(fn: () => T, context?: ExecutionContext): T;
}

/** A tracer (environment ignored) whose events land in `events`, and a context to run in. */
export function capture(options: RacewayOptions = {}): Capture {
  const transport = new CapturingTransport();
  const tracer = new Tracer({ serviceName: 'svc', ...options }, { transport, env: {} });
  const ctx: ExecutionContext = tracer.startContext({});
  const queries = () =>
    transport.events.filter((e): e is RacewayEvent<'db_query'> => e.kind === 'db_query');
  return {
    tracer,
    ctx,
    events: transport.events,
    queries,
    run: <T>(fn: () => T, context: ExecutionContext = ctx): T => runInContext(context, fn),
  };
}
