import { gunzipSync } from 'node:zlib';
import type { ExecutionContext } from '../../src/context/execution-context.js';
import { Tracer } from '../../src/context/tracer.js';
import type { RacewayEvent } from '../../src/events.js';
import type { EventBatch } from '../../src/transport/batch.js';
import { Transport, type TransportOptions } from '../../src/transport/transport.js';

/** A transport with test-friendly defaults (short retry delays) and a tracer that feeds it. */
export function transportUnderTest(
  serverUrl: string,
  options: Partial<TransportOptions> = {},
): { transport: Transport; ctx: ExecutionContext } {
  const transport = new Transport({
    endpoint: new URL('/v1/events', serverUrl),
    apiKey: 'test-key',
    batchSize: 200,
    flushIntervalMs: 60_000,
    maxQueueSize: 10_000,
    maxRetries: 3,
    requestTimeoutMs: 2000,
    retryBaseMs: 1,
    retryMaxMs: 5,
    ...options,
  });
  const tracer = new Tracer({ serviceName: 'svc', serverUrl }, { transport, env: {} });
  return { transport, ctx: tracer.startContext({}) };
}

/** Records `count` custom events numbered from `from`. */
export function recordMany(ctx: ExecutionContext, count: number, from = 0): RacewayEvent[] {
  const events: RacewayEvent[] = [];
  for (let i = from; i < from + count; i++) events.push(ctx.record('custom', { name: `e${i}` })!);
  return events;
}

/** A request body as the collector sees it (gzip or plain JSON). */
export function decodeBody(body: Buffer): EventBatch {
  const gzipped = body[0] === 0x1f && body[1] === 0x8b;
  return JSON.parse((gzipped ? gunzipSync(body) : body).toString('utf8')) as EventBatch;
}
