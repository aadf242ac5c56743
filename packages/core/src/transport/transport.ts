import http from 'node:http';
import https from 'node:https';
import { runOutsideContext } from '../context/async-context.js';
import type { RacewayEvent } from '../events.js';
import { Diagnostics } from '../logger.js';
import { backoffDelay, parseRetryAfter } from './backoff.js';
import {
  type BatchBody,
  type Compression,
  compressesFor,
  type EncodedEvents,
  encodeBatch,
  encodeEvents,
} from './batch.js';
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
  /** Events held at most, in flight included. */
  maxQueueSize: number;
  /** Bytes of encoded events held at most, in flight included. Default 64 MiB. */
  maxQueueBytes?: number;
  /** Retries of one batch; default unlimited: a batch is retried until delivered or the transport shuts down. */
  maxRetries?: number;
  requestTimeoutMs: number;
  /** Batches in flight at once. Default 3. */
  maxConcurrentRequests?: number;
  /** Default `auto`: gzip, except to a collector on loopback. */
  compression?: Compression;
  /** Scale of the retry delays: retry n waits a random time up to min(retryMaxMs, retryBaseMs * 2^n). Default 250. */
  retryBaseMs?: number;
  /** Longest wait before a retry, `Retry-After` included. Default 5000. */
  retryMaxMs?: number;
  /** Default time limit of {@link Transport.shutdown}. Default 5000. */
  shutdownTimeoutMs?: number;
  /** Source of randomness for the retry jitter (tests pin it). Default `Math.random`. */
  random?: () => number;
  /** Where the transport reports outages and drops. Default: console, debug off. */
  diagnostics?: Diagnostics;
}

/** Counters of a transport since it was created. */
export interface TransportStats {
  /** Events held in memory now: waiting, plus the batches being sent. Never above `maxQueueSize`. */
  queued: number;
  /** Bytes of encoded events held now (the events not encoded yet, fewer than 50, not counted). Never above `maxQueueBytes` by more than one event. */
  queuedBytes: number;
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

/** Options of {@link Transport.flush}. */
export interface FlushOptions {
  /** Resolve after this long even if events are still held (they stay queued). Default: no limit. */
  timeoutMs?: number;
}

/** A queue this many batches deep is a backlog: batches grow up to {@link BACKLOG_BATCH_SIZE}. */
const BACKLOG_FACTOR = 4;
/** Largest batch sent when events pile up faster than batches of `batchSize` can carry them. */
const BACKLOG_BATCH_SIZE = 2000;
/** Events are encoded as JSON in groups of this many (or of `batchSize`, when smaller). */
const ENCODE_GROUP_SIZE = 50;

/** Encoded events in the queue, with the sequence number of their first event. */
interface QueuedGroup extends EncodedEvents {
  readonly firstSeq: number;
}

/** Encoded events taken from the queue for one request to the collector, while it is in flight. */
interface Batch {
  readonly groups: QueuedGroup[];
  readonly firstSeq: number;
  readonly count: number;
  readonly bytes: number;
  request: PendingPost | null;
  sleepTimer: NodeJS.Timeout | null;
  wake: (() => void) | null;
  /** Settles when the batch has left the transport. */
  done: Promise<void> | null;
}

interface FlushWaiter {
  /** Resolved once every event with a lower sequence number has left the transport. */
  target: number;
  resolve: () => void;
}

/**
 * Sends events to the collector in the background: batched, compressed unless the collector is
 * on loopback, a bounded queue, up to `maxConcurrentRequests` batches in flight, retries with
 * exponential backoff and full jitter, and counters of everything it could not deliver. It
 * never throws, never rejects, never blocks the event loop, and its timers never keep the
 * process alive.
 *
 * Delivery: a batch that fails with a network error, 408, 429 or 5xx is retried, at most
 * `retryMaxMs` (5 s) apart, until the collector takes it (or `maxRetries`, when set), so that a
 * collector restart loses nothing while the queue has room. Several batches in flight keep a
 * slow collector from becoming a bottleneck.
 *
 * Memory bound and overflow policy: the queue holds at most `maxQueueSize` events and
 * `maxQueueBytes` bytes of encoded events, in flight included (plus fewer than 50 events not
 * encoded yet). When either bound is reached, a new event is dropped (and counted); the events
 * already queued are kept. Keeping the oldest keeps traces whole that had started reporting
 * before the collector became slow, costs O(1) per event, and is what OpenTelemetry's batch
 * processor does, so operators see the behaviour they expect.
 *
 * Tracers create and share transports themselves; build one directly only to send events
 * recorded elsewhere.
 *
 * @example
 * const transport = new Transport({ ...resolveConfig({ serviceName: 'shop' }) });
 * transport.enqueue(event);
 * await transport.flush();
 * transport.stats(); // { queued: 0, queuedBytes: 0, sent: 1, dropped: 0, rejected: 0, retries: 0, batchesSent: 1 }
 */
export class Transport {
  readonly #options: Required<TransportOptions>;
  readonly #agent: http.Agent;
  readonly #gzip: boolean;
  readonly #log: Diagnostics;
  /** Recorded events not encoded yet: fewer than one encoding group. */
  #fresh: RacewayEvent[] = [];
  #freshFirstSeq = 0;
  /** Encoded events waiting to be sent, oldest first. */
  #encoded: QueuedGroup[] = [];
  /** Events held in `#fresh` and `#encoded`. */
  #queued = 0;
  /** JSON characters (one byte each: event JSON is ASCII but for application values) in `#encoded`. */
  #queuedBytes = 0;
  readonly #groupSize: number;
  readonly #inFlight = new Set<Batch>();
  #inFlightCount = 0;
  #inFlightBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Sequence number of the next event accepted. */
  #nextSeq = 0;
  #waiters: FlushWaiter[] = [];
  /** Drops not yet reported to the collector in a batch's `dropped` field. */
  #unreported = 0;
  #stats: Omit<TransportStats, 'queued' | 'queuedBytes'> = {
    sent: 0,
    dropped: 0,
    rejected: 0,
    retries: 0,
    batchesSent: 0,
  };
  #stopping = false;
  #hooked = false;
  /** When the collector stopped answering, or null while it answers. */
  #unreachableSince: number | null = null;
  #warnedDrop = false;
  /** Events dropped since the queue last became full, or -1 while it has room. */
  #fullDrops = -1;
  /** The process is exiting by itself (`beforeExit`): see {@link Transport.shutdown}. */
  #exiting = false;
  readonly #beforeExit = () => {
    if (this.#queued === 0 && this.#inFlight.size === 0) return;
    this.#exiting = true;
    void this.shutdown().finally(() => {
      this.#exiting = false;
    });
  };

  constructor(options: TransportOptions) {
    this.#options = {
      maxQueueBytes: 64 * 1024 * 1024,
      maxRetries: Number.POSITIVE_INFINITY,
      maxConcurrentRequests: 3,
      compression: 'auto',
      retryBaseMs: 250,
      retryMaxMs: 5000,
      shutdownTimeoutMs: 5000,
      random: Math.random,
      diagnostics: new Diagnostics(),
      ...stripUndefined(options),
    };
    this.#log = this.#options.diagnostics;
    this.#gzip = compressesFor(options.endpoint, this.#options.compression);
    // Keep-alive saves a handshake per batch; node unrefs idle pooled sockets, so they do not
    // keep the process alive either.
    const AgentClass = options.endpoint.protocol === 'https:' ? https.Agent : http.Agent;
    this.#agent = new AgentClass({
      keepAlive: true,
      maxSockets: this.#options.maxConcurrentRequests,
    });
    this.#groupSize = Math.max(1, Math.min(ENCODE_GROUP_SIZE, options.batchSize));
  }

  /**
   * Queues an event for sending. When the queue is full the event is dropped and counted.
   * Never throws.
   */
  enqueue(event: RacewayEvent): void {
    try {
      const { maxQueueSize, maxQueueBytes } = this.#options;
      if (
        this.#queued + this.#inFlightCount >= maxQueueSize ||
        this.#queuedBytes + this.#inFlightBytes >= maxQueueBytes
      ) {
        this.#dropNew();
        return;
      }
      if (this.#fullDrops >= 0) {
        this.#log.debug(
          `queue has room again: ${this.#fullDrops} events were dropped while it was full`,
        );
        this.#fullDrops = -1;
      }
      if (this.#fresh.length === 0) this.#freshFirstSeq = this.#nextSeq;
      this.#fresh.push(event);
      this.#nextSeq++;
      this.#queued++;
      if (this.#fresh.length >= this.#groupSize) this.#encodeFresh();
      if (!this.#hooked) {
        this.#hooked = true;
        onBeforeExit(this.#beforeExit);
      }
      this.#schedule();
    } catch {
      // Enqueueing is best effort by design.
    }
  }

  /**
   * Resolves when every event queued before the call has left the transport: delivered,
   * rejected, or dropped. Never rejects. With a collector that is down this lasts until it is
   * back (retries have no limit by default), or until `timeoutMs`; {@link shutdown} drops what
   * is left at its time limit.
   */
  flush(options: FlushOptions = {}): Promise<void> {
    const target = this.#nextSeq;
    if (this.#oldestHeld() >= target) return Promise.resolve();
    const flushed = new Promise<void>((resolve) => {
      this.#waiters.push({ target, resolve });
      // A retry delay now holds up someone waiting: it must keep the process alive.
      for (const batch of this.#inFlight) batch.sleepTimer?.ref();
      this.#pump();
    });
    if (options.timeoutMs === undefined) return flushed;
    return settlesWithin(flushed, options.timeoutMs).then(() => undefined);
  }

  /**
   * Flushes within a time limit (default 5 s), then stops the timers and closes idle
   * connections. What is still queued when the limit runs out is dropped and counted. Raceway
   * calls it on `beforeExit` (then a collector that cannot be reached at all is not retried,
   * so that a process without one exits at once); call it yourself (or the global `shutdown()`) before exiting on a
   * signal. A transport that receives events after shutdown starts again (transports are shared
   * between tracers). Never rejects.
   *
   * @example
   * process.once('SIGTERM', async () => {
   *   await transport.shutdown();
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
    return {
      queued: this.#queued + this.#inFlightCount,
      queuedBytes: this.#queuedBytes + this.#inFlightBytes,
      ...this.#stats,
    };
  }

  /** The queue is full: the new event is dropped; logged once per time the queue fills up. */
  #dropNew(): void {
    this.#stats.dropped++;
    this.#unreported++;
    const { maxQueueSize, maxQueueBytes } = this.#options;
    const reason = `queue full (${maxQueueSize} events or ${maxQueueBytes} bytes held, the collector is down or slower than the service): new events are dropped until it has room`;
    this.#stats.lastError = reason;
    if (this.#fullDrops < 0) {
      this.#fullDrops = 0;
      this.#noteDrop(1, reason);
    }
    this.#fullDrops++;
  }

  /** Sequence number of the oldest event still held, or the next one when none is. */
  #oldestHeld(): number {
    let oldest = this.#nextSeq;
    for (const batch of this.#inFlight) if (batch.firstSeq < oldest) oldest = batch.firstSeq;
    const head = this.#encoded[0];
    if (head !== undefined && head.firstSeq < oldest) oldest = head.firstSeq;
    if (this.#fresh.length > 0 && this.#freshFirstSeq < oldest) oldest = this.#freshFirstSeq;
    return oldest;
  }

  /** Encodes the fresh events into the queue of encoded ones; what cannot be encoded is dropped. */
  #encodeFresh(): void {
    const events = this.#fresh;
    if (events.length === 0) return;
    this.#fresh = [];
    const { encoded, failed, error } = encodeEvents(events);
    if (encoded !== null) {
      this.#encoded.push({
        json: encoded.json,
        count: encoded.count,
        firstSeq: this.#freshFirstSeq,
      });
      this.#queuedBytes += encoded.json.length;
    }
    if (failed > 0) {
      this.#queued -= failed;
      this.#lose(failed, 0, `encoding failed: ${error}`);
    }
  }

  /** Takes the oldest encoded events, about `size` of them, for one request. */
  #take(size: number): Batch {
    const queue = this.#encoded;
    let groups = 0;
    let count = 0;
    let bytes = 0;
    // Groups hold at most batchSize events, so a batch of at least one group is never larger
    // than `size`, which is at least batchSize.
    while (
      groups < queue.length &&
      (groups === 0 || count + (queue[groups] as QueuedGroup).count <= size)
    ) {
      count += (queue[groups] as QueuedGroup).count;
      bytes += (queue[groups] as QueuedGroup).json.length;
      groups++;
    }
    this.#queued -= count;
    this.#queuedBytes -= bytes;
    const taken = queue.splice(0, groups);
    return {
      groups: taken,
      firstSeq: (taken[0] as QueuedGroup).firstSeq,
      count,
      bytes,
      request: null,
      sleepTimer: null,
      wake: null,
      done: null,
    };
  }

  /** Arms the batch timer: at once when a batch is full or a flush waits, else after the flush interval. */
  #schedule(): void {
    if (this.#queued === 0 || this.#inFlight.size >= this.#options.maxConcurrentRequests) return;
    if (this.#queued >= this.#options.batchSize || this.#waiters.length > 0) {
      this.#arm(0);
    } else if (this.#timer === null && this.#inFlight.size === 0) {
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

  /**
   * Starts sending batches while fewer than `maxConcurrentRequests` are in flight. A second
   * request starts only for a full batch (or a flush): a trickle of events goes out one small
   * batch at a time.
   */
  #pump(): void {
    this.#encodeFresh();
    this.#clearTimer();
    const { batchSize, maxConcurrentRequests } = this.#options;
    while (this.#queued > 0 && this.#inFlight.size < maxConcurrentRequests) {
      if (this.#inFlight.size > 0 && this.#queued < batchSize && this.#waiters.length === 0) break;
      if (this.#encoded.length === 0) break;
      // When a backlog builds up (the service records faster than batches of batchSize can
      // carry), send larger batches, still well below the collector's 5000-event limit, so that
      // a busy service catches up instead of dropping events.
      const backlog = this.#queued >= BACKLOG_FACTOR * batchSize;
      const size = backlog
        ? Math.max(batchSize, Math.min(this.#queued, BACKLOG_BATCH_SIZE))
        : batchSize;
      this.#start(this.#take(size));
    }
    this.#resolveWaiters();
    this.#schedule();
  }

  #start(batch: Batch): void {
    this.#inFlight.add(batch);
    this.#inFlightCount += batch.count;
    this.#inFlightBytes += batch.bytes;
    batch.done = runOutsideContext(() => this.#send(batch))
      .catch(() => {
        // #send never rejects; this keeps an unexpected bug from becoming an unhandled rejection.
      })
      .then(() => {
        this.#inFlight.delete(batch);
        this.#inFlightCount -= batch.count;
        this.#inFlightBytes -= batch.bytes;
        // A flush waits or a batch is full: go on at once, without a timer (in `beforeExit`
        // an unref'd timer would let the process exit first).
        runOutsideContext(() => this.#pump());
      });
  }

  #resolveWaiters(): void {
    if (this.#waiters.length === 0) return;
    const oldest = this.#oldestHeld();
    const waiting: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.target <= oldest) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  /** Sends one batch, retrying as spec 4.1 says. Never rejects. */
  async #send(batch: Batch): Promise<void> {
    const reported = this.#unreported;
    this.#unreported = 0;
    let body: BatchBody;
    try {
      // Encoded once: every retry sends the same bytes, so the same event ids, and the
      // collector stores each id once.
      body = await encodeBatch(batch.groups, reported, this.#gzip);
    } catch (error) {
      this.#lose(batch.count, reported, `encoding failed: ${(error as Error).message}`);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const result = await this.#post(batch, body);
      const outcome = classifyStatus(result.status);
      if (outcome === 'delivered') {
        this.#reachable(batch.count);
        this.#stats.sent += batch.count;
        this.#stats.batchesSent++;
        return;
      }
      if (outcome === 'partial') {
        this.#reachable(batch.count);
        const rejected = countRejected(result.body, batch.count);
        this.#stats.sent += batch.count - rejected;
        this.#stats.batchesSent++;
        this.#stats.rejected += rejected;
        this.#stats.dropped += rejected;
        this.#unreported += rejected;
        this.#stats.lastError = `HTTP 422: ${rejected} of ${batch.count} events rejected`;
        this.#noteDrop(rejected, this.#stats.lastError);
        return;
      }
      const reason = describeFailure(result);
      if (outcome === 'retry') this.#unreachable(reason);
      // On a natural exit nothing is worth waiting for when no collector even accepts the
      // connection: a script run without one exits at once instead of after the time limit.
      const refusedAtExit = this.#exiting && result.status === null;
      if (
        outcome === 'dropped' ||
        attempt >= this.#options.maxRetries ||
        this.#stopping ||
        refusedAtExit
      ) {
        this.#lose(
          batch.count,
          reported,
          outcome === 'dropped' ? `refused by the collector: ${reason}` : reason,
        );
        return;
      }
      this.#stats.retries++;
      this.#stats.lastError = reason;
      const { retryBaseMs, retryMaxMs, random } = this.#options;
      const retryAfter = parseRetryAfter(result.retryAfter) ?? 0;
      await this.#sleep(
        batch,
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

  async #post(batch: Batch, body: BatchBody): Promise<PostResult> {
    const request = postBatch({
      endpoint: this.#options.endpoint,
      body: body.bytes,
      gzip: body.gzip,
      apiKey: this.#options.apiKey,
      agent: this.#agent,
      timeoutMs: this.#options.requestTimeoutMs,
    });
    batch.request = request;
    try {
      return await request.result;
    } finally {
      batch.request = null;
    }
  }

  #sleep(batch: Batch, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        if (batch.sleepTimer !== null) clearTimeout(batch.sleepTimer);
        batch.sleepTimer = null;
        batch.wake = null;
        resolve();
      };
      batch.wake = wake;
      batch.sleepTimer = setTimeout(wake, ms);
      // Between retries only a waiting flush keeps the process alive (see flush()).
      if (this.#waiters.length === 0) batch.sleepTimer.unref();
    });
  }

  #unreachable(reason: string): void {
    if (this.#unreachableSince !== null) return;
    this.#unreachableSince = Date.now();
    this.#log.debug(
      `collector unreachable at ${this.#options.endpoint.href} (${reason}): retrying with backoff, ${this.stats().queued} events held`,
    );
  }

  /** The collector answered the batch of `answered` events. */
  #reachable(answered: number): void {
    if (this.#unreachableSince === null) return;
    const seconds = ((Date.now() - this.#unreachableSince) / 1000).toFixed(1);
    this.#unreachableSince = null;
    this.#log.debug(
      `collector reachable again at ${this.#options.endpoint.href} after ${seconds} s; ${this.stats().queued - answered} events still held`,
    );
  }

  /** Counts a batch as lost; its events and the drops it was reporting go into the next batch's `dropped`. */
  #lose(count: number, reported: number, reason: string): void {
    this.#stats.dropped += count;
    this.#unreported += count + reported;
    this.#stats.lastError = reason;
    this.#noteDrop(count, reason);
  }

  /** Without debug, the first drop is one warning; with debug, every drop is logged with counts. */
  #noteDrop(count: number, reason: string): void {
    if (count <= 0) return;
    const total = this.#stats.dropped;
    if (!this.#warnedDrop) {
      this.#warnedDrop = true;
      this.#log.warn(
        `dropped ${count} events: ${reason}. Later drops are counted (${this.#log.debugEnabled ? 'and logged' : 'set debug: true or RACEWAY_DEBUG=1 to log them'}).`,
      );
      return;
    }
    this.#log.debug(`dropped ${count} events: ${reason}; ${total} dropped in all`);
  }

  /** Gives up on everything held: aborts the requests in flight, drops the queue. */
  async #abandon(reason: string): Promise<void> {
    this.#stopping = true;
    try {
      const left = this.#queued;
      this.#fresh = [];
      this.#encoded = [];
      this.#queued = 0;
      this.#queuedBytes = 0;
      this.#stats.dropped += left;
      this.#unreported += left;
      this.#stats.lastError = reason;
      if (left > 0) this.#noteDrop(left, reason);
      const sending = Array.from(this.#inFlight);
      for (const batch of sending) {
        batch.request?.abort();
        batch.wake?.();
      }
      await Promise.all(sending.map((batch) => batch.done));
      this.#stats.lastError = reason;
    } finally {
      this.#stopping = false;
      this.#resolveWaiters();
    }
  }
}

/** Options as given, without the keys whose value is `undefined` (so that defaults apply). */
function stripUndefined<T extends object>(options: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return out as T;
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
