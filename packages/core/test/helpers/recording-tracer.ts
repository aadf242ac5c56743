import type { RacewayOptions } from '../../src/config.js';
import { runInContext } from '../../src/context/async-context.js';
import type { ExecutionContext } from '../../src/context/execution-context.js';
import { Tracer } from '../../src/context/tracer.js';
import type { RacewayEvent } from '../../src/events.js';
import { Transport } from '../../src/transport/transport.js';

/** A transport that keeps events in memory instead of sending them. */
export class RecordingTransport extends Transport {
  readonly events: RacewayEvent[] = [];

  constructor() {
    super({
      endpoint: new URL('http://127.0.0.1:9/v1/events'),
      apiKey: null,
      batchSize: 200,
      flushIntervalMs: 1000,
      maxQueueSize: 10_000,
      maxRetries: 0,
      requestTimeoutMs: 1000,
    });
  }

  override enqueue(event: RacewayEvent): void {
    this.events.push(event);
  }
}

/** A tracer (not cached, environment ignored) whose events land in `events`. */
export function recordingTracer(
  serviceName = 'svc',
  options: RacewayOptions = {},
): { tracer: Tracer; events: RacewayEvent[] } {
  const transport = new RecordingTransport();
  const tracer = new Tracer({ serviceName, ...options }, { transport, env: {} });
  return { tracer, events: transport.events };
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

/**
 * A {@link recordingTracer} with a context to run in: for the database driver packages' tests,
 * which import it by relative path (their `@raceway/core` is aliased to these sources).
 */
export function capture(options: RacewayOptions = {}): Capture {
  const { tracer, events } = recordingTracer('svc', options);
  const ctx: ExecutionContext = tracer.startContext({});
  const queries = () => events.filter((e): e is RacewayEvent<'db_query'> => e.kind === 'db_query');
  return {
    tracer,
    ctx,
    events,
    queries,
    run: <T>(fn: () => T, context: ExecutionContext = ctx): T => runInContext(context, fn),
  };
}
