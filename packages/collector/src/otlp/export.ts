import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { StoredEvent } from '../event.js';
import { eventsToExportRequest, spanCount } from './events-to-spans.js';
import { encodeExportRequest } from './proto.js';

const gzipAsync = promisify(gzip);

/** Where and how the collector forwards what it stores, as OTLP/HTTP protobuf. */
export interface OtlpExportOptions {
  /** The OTLP/HTTP traces URL, e.g. `http://tempo:4318/v1/traces`. */
  endpoint: string;
  /** Sent with every request (an `authorization` header, say). */
  headers?: Record<string, string>;
  /** A trace is sent once no event arrived for it this long, in ms (default 2000). */
  quietMs?: number;
  /** Spans per request (default 512, the OpenTelemetry SDKs' batch size). */
  maxBatchSpans?: number;
  /**
   * Events held for export at most (default 100,000): beyond, the oldest traces are dropped
   * from the export (never from storage) and counted in `droppedEvents`.
   */
  maxQueuedEvents?: number;
  /** Tries per request before it is given up (default 6). */
  maxAttempts?: number;
  /** Per request, in ms (default 10,000). */
  timeoutMs?: number;
  /** Retry delays: full jitter in [0, min(cap, base x 2^n)) (default 250 ms and 5 s). */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Told about a request given up. */
  onError?(error: Error): void;
}

export interface OtlpExportStats {
  queuedEvents: number;
  exportedSpans: number;
  /** Spans of requests given up (after every retry, or refused by the endpoint). */
  failedSpans: number;
  /** Events dropped from the export because the queue was full. */
  droppedEvents: number;
  retries: number;
}

interface PendingTrace {
  events: StoredEvent[];
  lastSeenMs: number;
}

/** OTLP/HTTP answers worth retrying (the OTLP specification's list) and network failures. */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Forwards stored events to an OTLP/HTTP endpoint as spans (events-to-spans.ts). Ingestion only
 * hands events over ({@link add}, synchronous, no I/O): grouping, encoding and sending happen
 * later, one request at a time, so a slow or dead endpoint never slows ingestion. A trace is
 * sent once quiet, in requests of at most `maxBatchSpans` spans, gzip-compressed; a failed
 * request is retried with backoff (Retry-After honoured), then given up. What waits is bounded
 * by `maxQueuedEvents`.
 */
export class OtlpExporter {
  private readonly pending = new Map<string, PendingTrace>();
  private readonly ready: StoredEvent[][] = [];
  private queued = 0;
  private sending: Promise<void> | null = null;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly stats_: OtlpExportStats = {
    queuedEvents: 0,
    exportedSpans: 0,
    failedSpans: 0,
    droppedEvents: 0,
    retries: 0,
  };
  private readonly quietMs: number;
  private readonly maxQueued: number;

  constructor(private readonly options: OtlpExportOptions) {
    this.quietMs = options.quietMs ?? 2000;
    this.maxQueued = options.maxQueuedEvents ?? 100_000;
    this.timer = setInterval(() => this.promoteQuiet(Date.now()), Math.max(10, this.quietMs / 2));
    this.timer.unref();
  }

  /** Takes newly stored events for export. Synchronous and cheap: called on the ingest path. */
  add(events: readonly StoredEvent[]): void {
    if (this.closed) return;
    const now = Date.now();
    for (const event of events) {
      let trace = this.pending.get(event.trace_id);
      if (!trace) {
        trace = { events: [], lastSeenMs: now };
        this.pending.set(event.trace_id, trace);
      }
      trace.events.push(event);
      trace.lastSeenMs = now;
    }
    this.queued += events.length;
    this.shed();
  }

  /** Sends everything held now and resolves when done (tests, shutdown). */
  async flush(): Promise<void> {
    this.promoteQuiet(Number.POSITIVE_INFINITY);
    while (this.sending || this.ready.length > 0) {
      this.pump();
      await this.sending;
    }
  }

  /** Stops taking events and sends what is held, within `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.race([
      this.flush(),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  stats(): OtlpExportStats {
    return { ...this.stats_, queuedEvents: this.queued };
  }

  /** Drops the oldest waiting traces while more than `maxQueuedEvents` events wait. */
  private shed(): void {
    while (this.queued > this.maxQueued) {
      const oldest = this.ready.shift();
      if (oldest) {
        this.drop(oldest.length);
        continue;
      }
      const first = this.pending.keys().next();
      if (first.done) break;
      this.drop(this.pending.get(first.value)!.events.length);
      this.pending.delete(first.value);
    }
  }

  private drop(count: number): void {
    this.queued -= count;
    this.stats_.droppedEvents += count;
  }

  private promoteQuiet(nowMs: number): void {
    for (const [traceId, trace] of this.pending) {
      if (nowMs - trace.lastSeenMs < this.quietMs) continue;
      this.pending.delete(traceId);
      this.ready.push(trace.events);
    }
    this.pump();
  }

  private pump(): void {
    if (this.sending || this.ready.length === 0) return;
    this.sending = this.sendNext().finally(() => {
      this.sending = null;
      this.pump();
    });
  }

  /** One request: whole traces, up to `maxBatchSpans` spans (a larger trace goes alone). */
  private async sendNext(): Promise<void> {
    const max = this.options.maxBatchSpans ?? 512;
    const batch: StoredEvent[] = [];
    let spans = 0;
    while (this.ready.length > 0) {
      const next = this.ready[0]!;
      const count = spanCount(next);
      if (batch.length > 0 && spans + count > max) break;
      this.ready.shift();
      batch.push(...next);
      spans += count;
    }
    try {
      if (spans > 0) await this.post(batch, spans);
    } finally {
      this.queued -= batch.length;
    }
  }

  private async post(events: StoredEvent[], spans: number): Promise<void> {
    const body = await gzipAsync(encodeExportRequest(eventsToExportRequest(events)));
    const attempts = this.options.maxAttempts ?? 6;
    let lastError: Error = new Error('not sent');
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        this.stats_.retries++;
        await sleep(this.delayMs(attempt - 1, lastError));
      }
      try {
        const response = await fetch(this.options.endpoint, {
          method: 'POST',
          headers: {
            ...this.options.headers,
            'content-type': 'application/x-protobuf',
            'content-encoding': 'gzip',
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        await response.arrayBuffer();
        if (response.ok) {
          this.stats_.exportedSpans += spans;
          return;
        }
        lastError = Object.assign(new Error(`the OTLP endpoint answered ${response.status}`), {
          retryAfter: response.headers.get('retry-after'),
        });
        if (!RETRYABLE.has(response.status)) break;
      } catch (error) {
        lastError = error as Error;
      }
    }
    this.stats_.failedSpans += spans;
    this.options.onError?.(lastError);
  }

  private delayMs(retry: number, error: Error): number {
    const base = this.options.retryBaseMs ?? 250;
    const cap = this.options.retryCapMs ?? 5000;
    const jitter = Math.random() * Math.min(cap, base * 2 ** Math.min(retry, 30));
    const header = (error as { retryAfter?: string | null }).retryAfter;
    const retryAfter = header && /^\d+$/.test(header) ? Number(header) * 1000 : 0;
    return Math.min(cap, Math.max(jitter, retryAfter));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
