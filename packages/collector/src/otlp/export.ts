import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { RaceGroup } from '../analysis/index.js';
import type { StoredEvent } from '../event.js';
import type { RaceListener } from '../scheduler/analysis-scheduler.js';
import { eventsToExportRequest, spanCount } from './events-to-spans.js';
import { encodeExportRequest } from './proto.js';
import { type RaceAnnotation, raceAnnotations } from './race-spans.js';

const gzipAsync = promisify(gzip);

/** Where and how the collector forwards what it stores, as OTLP/HTTP protobuf. */
export interface OtlpExportOptions {
  /** The OTLP/HTTP traces URL, e.g. `http://tempo:4318/v1/traces`. */
  endpoint: string;
  /** Sent with every request (an `authorization` header, say). */
  headers?: Record<string, string>;
  /** A trace is sent once no event arrived for it this long, in ms (default 2000). */
  quietMs?: number;
  /**
   * How long a quiet trace waits for its analysis, so that its races go out on its spans, in
   * ms (default 10,000); then it is sent without, and its races go out when found.
   */
  analysisWaitMs?: number;
  /**
   * Where people open the Raceway UI (`https://raceway.example.com`): each exported race links
   * to its trace view there (`raceway.race.url`). Default: no link.
   */
  uiUrl?: string;
  /** Spans per request (default 512, the OpenTelemetry SDKs' batch size). */
  maxBatchSpans?: number;
  /**
   * Events (and race annotations) held for export at most (default 100,000): beyond, the
   * oldest traces are dropped from the export (never from storage) and counted in
   * `droppedEvents`.
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
  /** Events, and race annotations, waiting to be sent. */
  queuedEvents: number;
  exportedSpans: number;
  /** Spans of requests given up (after every retry, or refused by the endpoint). */
  failedSpans: number;
  /** Events dropped from the export because the queue was full. */
  droppedEvents: number;
  /** Race annotations (a race on one span) dropped with them. */
  droppedRaces: number;
  retries: number;
}

interface PendingTrace {
  events: StoredEvent[];
  lastSeenMs: number;
  /** Whether the analysis reported on every event held (reset by each new event). */
  analyzed: boolean;
  /** The races of its latest analysis (each analysis reports them all). */
  traceRaces: RaceAnnotation[];
  /** Cross-trace races found while it was held. */
  crossRaces: RaceAnnotation[];
}

/** What one request carries part of: a trace's events and races, or races found late. */
interface ExportItem {
  events: StoredEvent[];
  races: RaceAnnotation[];
}

/** Race annotations remembered as sent, so that a trace analysed again sends none twice. */
const SENT_RACES_KEPT = 20_000;

/** OTLP/HTTP answers worth retrying (the OTLP specification's list) and network failures. */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Forwards stored events to an OTLP/HTTP endpoint as spans (events-to-spans.ts). Ingestion only
 * hands events over ({@link add}, synchronous, no I/O): grouping, encoding and sending happen
 * later, one request at a time, so a slow or dead endpoint never slows ingestion. A trace is
 * sent once quiet, in requests of at most `maxBatchSpans` spans, gzip-compressed; a failed
 * request is retried with backoff (Retry-After honoured), then given up. What waits is bounded
 * by `maxQueuedEvents`.
 *
 * Races (race-spans.ts). OTLP has no way to add an event to a span already sent (a span sent
 * again is a second copy in most backends), so a quiet trace waits for its analysis (the
 * scheduler's {@link traceAnalyzed}, up to `analysisWaitMs`) and goes out with its races as
 * `raceway.race` events and links on the racing spans; cross-trace races found while it is
 * held join it the same way. A race found once its trace has left (a cross-trace pass that
 * came later, an analysis slower than the wait) is sent on its own, as a zero-duration span
 * `raceway.race` in that trace, child of the racing span and linked to both sides. Races are
 * counted in the queue's bound like events; those sent are remembered (a bounded set) so that
 * a trace analysed again does not send them twice.
 */
export class OtlpExporter implements RaceListener {
  private readonly pending = new Map<string, PendingTrace>();
  private readonly ready: ExportItem[] = [];
  private readonly sentRaces = new Set<string>();
  private queued = 0;
  private sending: Promise<void> | null = null;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly stats_: OtlpExportStats = {
    queuedEvents: 0,
    exportedSpans: 0,
    failedSpans: 0,
    droppedEvents: 0,
    droppedRaces: 0,
    retries: 0,
  };
  private readonly quietMs: number;
  private readonly analysisWaitMs: number;
  private readonly maxQueued: number;

  constructor(private readonly options: OtlpExportOptions) {
    this.quietMs = options.quietMs ?? 2000;
    this.analysisWaitMs = options.analysisWaitMs ?? 10_000;
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
        trace = { events: [], lastSeenMs: now, analyzed: false, traceRaces: [], crossRaces: [] };
        this.pending.set(event.trace_id, trace);
      }
      trace.events.push(event);
      trace.lastSeenMs = now;
      trace.analyzed = false;
    }
    this.queued += events.length;
    this.shed();
  }

  /**
   * A trace's analysis covers every event stored for it so far: its races (all of them) go out
   * with it, or on their own if it has left. Synchronous and cheap: called by the scheduler.
   */
  traceAnalyzed(traceId: string, races: readonly RaceGroup[]): void {
    if (this.closed) return;
    const annotations = races.flatMap((race) => raceAnnotations(race, this.options.uiUrl));
    const trace = this.pending.get(traceId);
    if (trace) {
      this.queued += annotations.length - trace.traceRaces.length;
      trace.traceRaces = annotations;
      trace.analyzed = true;
    } else {
      this.enqueueLate(annotations);
    }
    this.shed();
  }

  /** Cross-trace races found: each side joins its trace if held, else goes on its own. */
  crossTraceRacesFound(races: readonly RaceGroup[]): void {
    if (this.closed) return;
    const late: RaceAnnotation[] = [];
    for (const race of races) {
      for (const annotation of raceAnnotations(race, this.options.uiUrl)) {
        const trace = this.pending.get(annotation.traceId);
        if (!trace) late.push(annotation);
        else if (!trace.crossRaces.some((r) => r.key === annotation.key)) {
          trace.crossRaces.push(annotation);
          this.queued++;
        }
      }
    }
    this.enqueueLate(late);
    this.shed();
  }

  /**
   * Sends everything held now, analysed or not, and resolves when done (tests, shutdown).
   */
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
        this.drop(oldest.events.length, oldest.races.length);
        continue;
      }
      const first = this.pending.keys().next();
      if (first.done) break;
      const trace = this.pending.get(first.value)!;
      this.drop(trace.events.length, trace.traceRaces.length + trace.crossRaces.length);
      this.pending.delete(first.value);
    }
  }

  private drop(events: number, races: number): void {
    this.queued -= events + races;
    this.stats_.droppedEvents += events;
    this.stats_.droppedRaces += races;
  }

  /**
   * Moves to the send queue the traces quiet for `quietMs` whose analysis reported, and those
   * that waited `analysisWaitMs` more for it.
   */
  private promoteQuiet(nowMs: number): void {
    for (const [traceId, trace] of this.pending) {
      const quietFor = nowMs - trace.lastSeenMs;
      if (quietFor < this.quietMs) continue;
      if (!trace.analyzed && quietFor < this.quietMs + this.analysisWaitMs) continue;
      this.pending.delete(traceId);
      const races = [...trace.traceRaces, ...trace.crossRaces];
      const unsent = this.unsent(races);
      this.queued -= races.length - unsent.length;
      this.ready.push({ events: trace.events, races: unsent });
    }
    this.pump();
  }

  /** Races of traces no longer held: sent on their own, in the next request. */
  private enqueueLate(races: RaceAnnotation[]): void {
    const unsent = this.unsent(races);
    if (unsent.length === 0) return;
    this.queued += unsent.length;
    this.ready.push({ events: [], races: unsent });
    this.pump();
  }

  /** The races not handed to a request before, now remembered (the oldest forgotten first). */
  private unsent(races: RaceAnnotation[]): RaceAnnotation[] {
    const out: RaceAnnotation[] = [];
    for (const race of races) {
      if (this.sentRaces.has(race.key)) continue;
      this.sentRaces.add(race.key);
      out.push(race);
    }
    while (this.sentRaces.size > SENT_RACES_KEPT) {
      this.sentRaces.delete(this.sentRaces.values().next().value!);
    }
    return out;
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
    const batch: ExportItem = { events: [], races: [] };
    let spans = 0;
    while (this.ready.length > 0) {
      const next = this.ready[0]!;
      const count = spanCount(next.events, next.races);
      if (spans > 0 && spans + count > max) break;
      this.ready.shift();
      batch.events.push(...next.events);
      batch.races.push(...next.races);
      spans += count;
    }
    try {
      if (spans > 0) await this.post(batch, spans);
    } finally {
      this.queued -= batch.events.length + batch.races.length;
    }
  }

  private async post(batch: ExportItem, spans: number): Promise<void> {
    const request = eventsToExportRequest(batch.events, batch.races);
    const body = await gzipAsync(encodeExportRequest(request));
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
