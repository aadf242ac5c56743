import http from 'node:http';
import https from 'node:https';
import { runOutsideContext } from '../context/async-context.js';
import type { RacewayEvent } from '../events.js';
import { backoffDelay, parseRetryAfter } from './backoff.js';
import { type EncodedEvents, encodeBatch, encodeEvents } from './batch.js';
import { offBeforeExit, onBeforeExit } from './exit-hook.js';
import { type PendingPost, type PostResult, postBatch } from './http-post.js';
import { classifyStatus, countRejected } from './outcome.js';

/** Settings of a {@link Transport}. A `ResolvedConfig` has all of the required ones. */
export interface TransportOptions {
  /** The collector's `POST /v1/events` URL. */
  endpoint: URL;
  apiKey: string | null;
  batchSize: number;
  flushIntervalMs: number;
  maxQueueSize: number;
  maxRetries: number;
  requestTimeoutMs: number;
  /** Scale of the retry delays: retry n waits a random time up to min(retryMaxMs, retryBaseMs * 2^n). Default 250. */
  retryBaseMs?: number;
  /** Longest wait before a retry, `Retry-After` included. Default 10000. */
  retryMaxMs?: number;
  /** Default time limit of {@link Transport.shutdown}. Default 5000. */
  shutdownTimeoutMs?: number;
  /** Source of randomness for the retry jitter (tests pin it). Default `Math.random`. */
  random?: () => number;
}

/** Counters of a transport since it was created. */
export interface TransportStats {
  /** Events held in memory now: waiting, plus the batch being sent. Never above `maxQueueSize`. */
  queued: number;
  /** Events the collector acknowledged as durable. */
  sent: number;
  /** Events that will never reach the collector: queue full, batch refused, retries exhausted, shutdown timeout, and the `rejected`. */
  dropped: number;
  /** Events the collector refused one by one (422); included in `dropped`. */
  rejected: number;
  /** Requests repeated after a network error, 408, 429 or 5xx. */
  retries: number;
  /** Batches the collector acknowledged (fully or partly). */
  batchesSent: number;
  /** The last thing that went wrong, for diagnostics. */
  lastError?: string;
}

/** Options of {@link Transport.shutdown}. */
export interface ShutdownOptions {
  /** Time limit of the final flush; what is left when it runs out is dropped and counted. */
  timeoutMs?: number;
}

/** A queue this many batches deep is a backlog: batches grow up to {@link BACKLOG_BATCH_SIZE}. */
const BACKLOG_FACTOR = 4;
/** Largest batch sent when events pile up faster than batches of `batchSize` can carry them. */
const BACKLOG_BATCH_SIZE = 2000;
/** Events are encoded as JSON in groups of this many (or of `batchSize`, when smaller). */
const ENCODE_GROUP_SIZE = 50;

/** Encoded events taken from the queue for one request to the collector. */
interface Batch {
  readonly events: EncodedEvents[];
  readonly count: number;
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
}

/**
 * Sends events to the collector in the background: batched, gzip-compressed, with a bounded
 * queue, one request in flight at a time, retries with exponential backoff and full jitter, and
 * counters of everything it could not deliver. It never throws, never rejects, never blocks the
 * event loop, and its timers never keep the process alive.
 *
 * Overflow policy: when `maxQueueSize` events are held (in flight included), a new event is
 * dropped (and counted), the events already queued are kept. Keeping the oldest keeps traces
 * whole that had started reporting before the collector became slow (their first events are
 * often already delivered), costs O(1) per event, and is what OpenTelemetry's batch processor
 * does, so operators see the behaviour they expect.
 *
 * Tracers create and share transports themselves; build one directly only to send events
 * recorded elsewhere.
 *
 * @example
 * const transport = new Transport({ ...resolveConfig({ serviceName: 'shop' }) });
 * transport.enqueue(event);
 * await transport.flush();
 * transport.stats(); // { queued: 0, sent: 1, dropped: 0, rejected: 0, retries: 0, batchesSent: 1 }
 */
export class Transport {
  readonly #options: Required<TransportOptions>;
  readonly #agent: http.Agent;
  /** Recorded events not encoded yet: fewer than one encoding group. */
  #fresh: RacewayEvent[] = [];
  /** Encoded events waiting to be sent, oldest first. */
  #encoded: EncodedEvents[] = [];
  /** Events held in `#fresh` and `#encoded`. */
  #queued = 0;
  readonly #groupSize: number;
  #inFlight = 0;
  #sending: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Events accepted into the queue, ever. */
  #enqueued = 0;
  /** Events whose fate is sealed (delivered, rejected or dropped), ever. */
  #settled = 0;
  #waiters: FlushWaiter[] = [];
  /** Drops not yet reported to the collector in a batch's `dropped` field. */
  #unreported = 0;
  #stats: Omit<TransportStats, 'queued'> = {
    sent: 0,
    dropped: 0,
    rejected: 0,
    retries: 0,
    batchesSent: 0,
  };
  #request: PendingPost | null = null;
  #sleepTimer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  #stopping = false;
  #hooked = false;
  readonly #beforeExit = () => {
    if (this.#queued > 0 || this.#sending !== null) void this.shutdown();
  };

  constructor(options: TransportOptions) {
    this.#options = {
      retryBaseMs: 250,
      retryMaxMs: 10_000,
      shutdownTimeoutMs: 5000,
      random: Math.random,
      ...options,
    };
    // Keep-alive saves a handshake per batch; node unrefs idle pooled sockets, so they do not
    // keep the process alive either.
    const AgentClass = options.endpoint.protocol === 'https:' ? https.Agent : http.Agent;
    this.#agent = new AgentClass({ keepAlive: true, maxSockets: 1 });
    this.#groupSize = Math.max(1, Math.min(ENCODE_GROUP_SIZE, options.batchSize));
  }

  /**
   * Queues an event for sending. When the queue is full the event is dropped and counted.
   * Never throws.
   */
  enqueue(event: RacewayEvent): void {
    try {
      if (this.#queued + this.#inFlight >= this.#options.maxQueueSize) {
        this.#stats.dropped++;
        this.#unreported++;
        this.#stats.lastError = `queue full (${this.#options.maxQueueSize} events): event dropped`;
        return;
      }
      this.#fresh.push(event);
      this.#queued++;
      this.#enqueued++;
      if (this.#fresh.length >= this.#groupSize) this.#encodeFresh();
      if (!this.#hooked) {
        this.#hooked = true;
        onBeforeExit(this.#beforeExit);
      }
      if (this.#sending === null) this.#schedule();
    } catch {
      // Enqueueing is best effort by design.
    }
  }

  /**
   * Resolves when every event queued before the call has been attempted: delivered, rejected,
   * or dropped after its retries. Never rejects. With a collector that is down this takes as
   * long as the retries do; {@link shutdown} has a time limit.
   */
  flush(): Promise<void> {
    const target = this.#enqueued;
    if (this.#settled >= target) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#waiters.push({ target, resolve });
      // A retry delay now holds up someone waiting: it must keep the process alive.
      this.#sleepTimer?.ref();
      this.#pump();
    });
  }

  /**
   * Flushes within a time limit (default 5 s), then stops the timers and closes idle
   * connections. What is still queued when the limit runs out is dropped and counted. Raceway
   * calls it on `beforeExit`; call it yourself before exiting on a signal. A transport that
   * receives events after shutdown starts again (transports are shared between tracers).
   * Never rejects.
   *
   * @example
   * process.once('SIGTERM', async () => {
   *   await tracer.shutdown();
   *   process.exit(0);
   * });
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    try {
      const timeoutMs = options.timeoutMs ?? this.#options.shutdownTimeoutMs;
      if (!(await settlesWithin(this.flush(), timeoutMs))) {
        await this.#abandon(`shutdown: not delivered within ${timeoutMs} ms`);
      }
      this.#clearTimer();
      if (this.#hooked && this.#queued === 0) {
        this.#hooked = false;
        offBeforeExit(this.#beforeExit);
      }
      this.#agent.destroy();
    } catch {
      // Shutdown is best effort by design.
    }
  }

  /** Counters since the transport was created. */
  stats(): TransportStats {
    return { queued: this.#queued + this.#inFlight, ...this.#stats };
  }

  /** Encodes the fresh events into the queue of encoded ones; what cannot be encoded is dropped. */
  #encodeFresh(): void {
    const events = this.#fresh;
    if (events.length === 0) return;
    this.#fresh = [];
    const { encoded, failed, error } = encodeEvents(events);
    if (encoded !== null) this.#encoded.push(encoded);
    if (failed > 0) {
      this.#queued -= failed;
      this.#settled += failed;
      this.#lose(failed, 0, `encoding failed: ${error}`);
    }
  }

  /** Takes the oldest encoded events, about `size` of them, for one request. */
  #take(size: number): Batch {
    const queue = this.#encoded;
    let groups = 0;
    let count = 0;
    // Groups hold at most batchSize events, so a batch of at least one group is never larger
    // than `size`, which is at least batchSize.
    while (
      groups < queue.length &&
      (groups === 0 || count + (queue[groups] as EncodedEvents).count <= size)
    ) {
      count += (queue[groups] as EncodedEvents).count;
      groups++;
    }
    this.#queued -= count;
    return { events: queue.splice(0, groups), count };
  }

  /** Arms the batch timer: at once when a batch is full or a flush waits, else after the flush interval. */
  #schedule(): void {
    if (this.#queued === 0) return;
    if (this.#queued >= this.#options.batchSize || this.#waiters.length > 0) {
      this.#arm(0);
    } else if (this.#timer === null) {
      this.#arm(this.#options.flushIntervalMs);
    }
  }

  #arm(delayMs: number): void {
    if (this.#timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.#timer);
    }
    // Created outside any execution context, so the timer and everything it starts belong to
    // no request; unref'd, so that it never keeps the process alive.
    this.#timer = runOutsideContext(() =>
      setTimeout(() => {
        this.#timer = null;
        this.#pump();
      }, delayMs),
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Starts sending the next batch unless a request is already in flight. */
  #pump(): void {
    if (this.#sending !== null) return;
    this.#encodeFresh();
    if (this.#queued === 0) {
      this.#resolveWaiters();
      return;
    }
    this.#clearTimer();
    // With one request in flight, a fixed batch size caps throughput at batchSize events per
    // round trip. When a backlog builds up (the service records faster than that), send larger
    // batches, still well below the collector's 5000-event limit, so that a busy service
    // catches up instead of dropping events.
    const backlog = this.#queued >= BACKLOG_FACTOR * this.#options.batchSize;
    const size = backlog
      ? Math.max(this.#options.batchSize, Math.min(this.#queued, BACKLOG_BATCH_SIZE))
      : this.#options.batchSize;
    const batch = this.#take(size);
    this.#inFlight = batch.count;
    this.#sending = runOutsideContext(() => this.#send(batch))
      .catch(() => {
        // #send never rejects; this keeps an unexpected bug from becoming an unhandled rejection.
      })
      .then(() => {
        this.#inFlight = 0;
        this.#settled += batch.count;
        this.#sending = null;
        this.#resolveWaiters();
        // A flush waits or a batch is full: go on at once, without a timer (in `beforeExit`
        // an unref'd timer would let the process exit first).
        if (this.#waiters.length > 0 || this.#queued >= this.#options.batchSize) {
          runOutsideContext(() => this.#pump());
        } else {
          this.#schedule();
        }
      });
  }

  #resolveWaiters(): void {
    if (this.#waiters.length === 0) return;
    const waiting: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.target <= this.#settled) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  /** Sends one batch, retrying as spec 4.1 says. Never rejects. */
  async #send(batch: Batch): Promise<void> {
    const reported = this.#unreported;
    this.#unreported = 0;
    let body: Buffer;
    try {
      // Encoded once: every retry sends the same bytes, so the same event ids, and the
      // collector stores each id once.
      body = await encodeBatch(batch.events, reported);
    } catch (error) {
      this.#lose(batch.count, reported, `encoding failed: ${(error as Error).message}`);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const result = await this.#post(body);
      const outcome = classifyStatus(result.status);
      if (outcome === 'delivered') {
        this.#stats.sent += batch.count;
        this.#stats.batchesSent++;
        return;
      }
      if (outcome === 'partial') {
        const rejected = countRejected(result.body, batch.count);
        this.#stats.sent += batch.count - rejected;
        this.#stats.batchesSent++;
        this.#stats.rejected += rejected;
        this.#stats.dropped += rejected;
        this.#unreported += rejected;
        this.#stats.lastError = `HTTP 422: ${rejected} of ${batch.count} events rejected`;
        return;
      }
      const reason = describeFailure(result);
      if (outcome === 'dropped' || attempt >= this.#options.maxRetries || this.#stopping) {
        this.#lose(batch.count, reported, reason);
        return;
      }
      this.#stats.retries++;
      this.#stats.lastError = reason;
      const { retryBaseMs, retryMaxMs, random } = this.#options;
      const retryAfter = parseRetryAfter(result.retryAfter) ?? 0;
      await this.#sleep(
        Math.min(
          retryMaxMs,
          Math.max(retryAfter, backoffDelay(attempt, retryBaseMs, retryMaxMs, random)),
        ),
      );
      if (this.#stopping) {
        this.#lose(batch.count, reported, reason);
        return;
      }
    }
  }

  async #post(body: Buffer): Promise<PostResult> {
    const request = postBatch({
      endpoint: this.#options.endpoint,
      body,
      apiKey: this.#options.apiKey,
      agent: this.#agent,
      timeoutMs: this.#options.requestTimeoutMs,
    });
    this.#request = request;
    try {
      return await request.result;
    } finally {
      this.#request = null;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        if (this.#sleepTimer !== null) clearTimeout(this.#sleepTimer);
        this.#sleepTimer = null;
        this.#wake = null;
        resolve();
      };
      this.#wake = wake;
      this.#sleepTimer = setTimeout(wake, ms);
      // Between retries only a waiting flush keeps the process alive (see flush()).
      if (this.#waiters.length === 0) this.#sleepTimer.unref();
    });
  }

  /** Counts a batch as lost; its events and the drops it was reporting go into the next batch's `dropped`. */
  #lose(count: number, reported: number, reason: string): void {
    this.#stats.dropped += count;
    this.#unreported += count + reported;
    this.#stats.lastError = reason;
  }

  /** Gives up on everything held: aborts the request in flight, drops the queue. */
  async #abandon(reason: string): Promise<void> {
    this.#stopping = true;
    try {
      this.#request?.abort();
      this.#wake?.();
      const left = this.#queued;
      this.#fresh = [];
      this.#encoded = [];
      this.#queued = 0;
      this.#stats.dropped += left;
      this.#unreported += left;
      this.#settled += left;
      await this.#sending;
      this.#stats.lastError = reason;
    } finally {
      this.#stopping = false;
      this.#resolveWaiters();
    }
  }
}

function describeFailure(result: PostResult): string {
  if (result.status === null) return `collector unreachable: ${result.error ?? 'no answer'}`;
  const detail = result.body.slice(0, 200).trim();
  return `HTTP ${result.status}${detail === '' ? '' : `: ${detail}`}`;
}

/** True when `promise` settles within `ms`; the timer never keeps the process alive. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
