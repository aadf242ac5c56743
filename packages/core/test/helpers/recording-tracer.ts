import type { RacewayOptions } from '../../src/config.js';
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
