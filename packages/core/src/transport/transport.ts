import http from 'node:http';
import https from 'node:https';
import { runOutsideContext } from '../context/async-context.js';
import type { RacewayEvent } from '../events.js';
import { Diagnostics } from '../logger.js';
import { retryDelay } from './backoff.js';
import {
  type BatchBody,
  type Compression,
  compressesFor,
  type EncodedEvents,
  encodeBatch,
  encodeEvents,
} from './batch.js';
import { DeliveryWarnings } from './delivery-warnings.js';
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
  /**
   * Retries of one batch; default unlimited: a batch is retried until delivered, dropped as its
   * own fault (see {@link Transport}), or the transport shuts down.
   */
  maxRetries?: number;
  requestTimeoutMs: number;
  /** Batches in flight at once while the collector answers; one while it fails. Default 3. */
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
  /** Events held in memory now: waiting (batches waiting for a retry included), plus the batches being sent. Never above `maxQueueSize`. */
  queued: number;
  /** Bytes of encoded events held now (the events not encoded yet, fewer than 50, not counted). Never above `maxQueueBytes` by more than one event. */
  queuedBytes: number;
  /** Events the collector acknowledged as durable. */
  sent: number;
  /** Events that will never reach the collector: queue full, batch refused, retries exhausted (`maxRetries`, or a batch that keeps failing while others get through), shutdown timeout, and the `rejected`. */
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
/**
 * A batch with this many strikes is dropped: `retry` answers each received while the collector
 * took other batches, so the fault is the batch's own, not the collector's (spec 4.2).
 */
const OWN_FAULT_STRIKES = 5;

/** Encoded events in the queue, with the sequence number of their first event. */
interface QueuedGroup extends EncodedEvents {
  readonly firstSeq: number;
}

/**
 * Encoded events taken from the queue for one request to the collector: in flight, or back in
 * the queue for a retry. Its events count against the queue's bound until it leaves the
 * transport (delivered or dropped).
 */
interface Batch {
  readonly firstSeq: number;
  readonly count: number;
  /** JSON characters of its events, as counted in the bound. */
  readonly bytes: number;
  /** Its encoded events, until the body is built from them. */
  groups: readonly QueuedGroup[];
  /** Built on the first attempt and kept: every retry sends the same bytes, so the same event ids. */
  body: BatchBody | null;
  /** Drops its body reports to the collector (the batch's `dropped` field). */
  reported: number;
  /** Answers `retry` so far. */
  retryAnswers: number;
  /** `retry` answers received while the collector took other batches (spec 4.2 strikes). */
  strikes: number;
  /** `batchesSent` at its sending or its last answer: a count above it means others got through since. */
  deliveredMark: number;
  /** `#nextSeq` when it went back to the queue: the events recorded before go first. */
  requeuedAt: number;
  request: PendingPost | null;
  /** Settles when the current attempt is over. */
  done: Promise<void> | null;
}

/** What an attempt leaves to do with its batch. */
type AttemptEnd = 'requeue' | 'done';

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
 * Delivery (spec 4.2): several batches in flight keep a slow collector from becoming a
 * bottleneck. A batch answered with a network error, 408, 429 or 5xx goes back to the end of the
 * queue with its encoded bytes (the same event ids) and its place in the memory bound, so that it
 * never holds a slot that the batches behind it could use. While the collector fails (its last
 * answer asked for a retry), one request is in flight at a time, each after a delay that grows
 * with the consecutive failures (full jitter, raised to `Retry-After`, at most `retryMaxMs`);
 * the first batch it takes fills all the slots again. A collector that is down loses nothing
 * while the queue has room: batches are retried for as long as it takes (or `maxRetries`, when
 * set). But a batch answered `retry` 5 times while the collector took other batches between its
 * answers is at fault itself (it breaks the collector somehow): it is dropped and counted.
 *
 * Memory bound and overflow policy: the queue holds at most `maxQueueSize` events and
 * `maxQueueBytes` bytes of encoded events, in flight and waiting for a retry included (plus
 * fewer than 50 events not encoded yet). When either bound is reached, a new event is dropped
 * (and counted); the events already queued are kept. Keeping the oldest keeps traces whole that
 * had started reporting before the collector became slow, costs O(1) per event, and is what
 * OpenTelemetry's batch processor does, so operators see the behaviour they expect.
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
  /** Batches answered `retry`, back at the end of the queue, oldest first. */
  #retrying: Batch[] = [];
  /** Events and bytes of the batches taken from the queue (in flight or in `#retrying`). */
  #takenCount = 0;
  #takenBytes = 0;
  /** Batch timer: the flush interval, or at once for a full batch. */
  #timer: NodeJS.Timeout | null = null;
  /** The delay `#timer` was set with. */
  #timerDelayMs = 0;
  /**
   * The flush interval ran out with events queued: the next free slot takes them, however few.
   * Only then does a batch smaller than `batchSize` go out; the end of a request does not send
   * what arrived meanwhile, or a trickle would leave in batches of a round trip's worth of
   * events, each paying a whole request.
   */
  #intervalDue = false;
  /** Consecutive `retry` answers: above 0, the collector is failing. */
  #failures = 0;
  /** The `Retry-After` header of the last `retry` answer. */
  #retryAfter: string | undefined;
  /** While the collector fails, the wait before the next request. */
  #retryTimer: NodeJS.Timeout | null = null;
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
  /** Why everything held is being dropped (see {@link #abandon}), or null. */
  #abandoning: string | null = null;
  #hooked = false;
  /** When the collector stopped answering, or null while it answers. */
  #unreachableSince: number | null = null;
  readonly #warnings: DeliveryWarnings;
  /** Events dropped since the queue last became full, or -1 while it has room. */
  #fullDrops = -1;
  /** The process is exiting by itself (`beforeExit`): see {@link Transport.shutdown}. */
  #exiting = false;
  readonly #beforeExit = () => {
    if (this.#held() === 0) return;
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
    this.#warnings = new DeliveryWarnings(options.endpoint.href, this.#log);
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
        this.#queued + this.#takenCount >= maxQueueSize ||
        this.#queuedBytes + this.#takenBytes >= maxQueueBytes
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
      this.#retryTimer?.ref();
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
      if (this.#hooked && this.#held() === 0) {
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
      queued: this.#held(),
      queuedBytes: this.#queuedBytes + this.#takenBytes,
      ...this.#stats,
    };
  }

  /** Events held: queued, in flight, or waiting for a retry. */
  #held(): number {
    return this.#queued + this.#takenCount;
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
    for (const batch of this.#retrying) if (batch.firstSeq < oldest) oldest = batch.firstSeq;
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

  /**
   * Takes the oldest encoded events, about `size` of them, for one request; only events recorded
   * before `beforeSeq`, when a batch waiting for a retry comes after them.
   */
  #take(size: number, beforeSeq = Number.POSITIVE_INFINITY): Batch {
    const queue = this.#encoded;
    let groups = 0;
    let count = 0;
    let bytes = 0;
    // Groups hold at most batchSize events, so a batch of at least one group is never larger
    // than `size`, which is at least batchSize.
    while (
      groups < queue.length &&
      (groups === 0 ||
        (count + (queue[groups] as QueuedGroup).count <= size &&
          (queue[groups] as QueuedGroup).firstSeq < beforeSeq))
    ) {
      count += (queue[groups] as QueuedGroup).count;
      bytes += (queue[groups] as QueuedGroup).json.length;
      groups++;
    }
    this.#queued -= count;
    this.#queuedBytes -= bytes;
    this.#takenCount += count;
    this.#takenBytes += bytes;
    const taken = queue.splice(0, groups);
    return {
      firstSeq: (taken[0] as QueuedGroup).firstSeq,
      count,
      bytes,
      groups: taken,
      body: null,
      reported: 0,
      retryAnswers: 0,
      strikes: 0,
      deliveredMark: 0,
      requeuedAt: 0,
      request: null,
      done: null,
    };
  }

  /**
   * The next batch to send: the batch waiting longest for a retry once every event queued before
   * it went back has been taken, else the oldest queued events. Null when nothing waits.
   */
  #nextBatch(): Batch | null {
    const retry = this.#retrying[0];
    const head = this.#encoded[0];
    if (retry !== undefined && (head === undefined || head.firstSeq >= retry.requeuedAt)) {
      return this.#retrying.shift() as Batch;
    }
    if (head === undefined) return null;
    const { batchSize } = this.#options;
    // When a backlog builds up (the service records faster than batches of batchSize can
    // carry), send larger batches, still well below the collector's 5000-event limit, so that
    // a busy service catches up instead of dropping events.
    const backlog = this.#queued >= BACKLOG_FACTOR * batchSize;
    const size = backlog
      ? Math.max(batchSize, Math.min(this.#queued, BACKLOG_BATCH_SIZE))
      : batchSize;
    return this.#take(size, retry?.requeuedAt);
  }

  /** Something waits to be sent: queued events, or batches waiting for a retry. */
  #hasWaiting(): boolean {
    return this.#queued > 0 || this.#retrying.length > 0;
  }

  /**
   * Arms the batch timer: at once when a batch is ready or a flush waits, else after the flush
   * interval. While the collector fails, the retry timer paces the requests instead.
   */
  #schedule(): void {
    if (this.#failures > 0) {
      this.#armRetry();
      return;
    }
    if (!this.#hasWaiting() || this.#inFlight.size >= this.#options.maxConcurrentRequests) return;
    if (this.#batchReady()) {
      this.#arm(0);
    } else if (this.#timer === null && this.#inFlight.size === 0) {
      this.#arm(this.#options.flushIntervalMs);
    }
  }

  /** A request is worth a slot of its own: a full batch, a batch to retry, or a flush waiting. */
  #batchReady(): boolean {
    return (
      this.#queued >= this.#options.batchSize ||
      this.#retrying.length > 0 ||
      this.#waiters.length > 0
    );
  }

  #arm(delayMs: number): void {
    if (this.#timer !== null) {
      // A timer due as soon already does the job: every event recorded while a ready batch
      // waits for the next turn of the event loop asks for one, and setting it again each time
      // would cost the recording thread a timer per event.
      if (delayMs >= this.#timerDelayMs) return;
      clearTimeout(this.#timer);
    }
    this.#timerDelayMs = delayMs;
    // Created outside any execution context, so the timer and everything it starts belong to
    // no request; unref'd, so that it never keeps the process alive.
    this.#timer = runOutsideContext(() =>
      setTimeout(() => {
        this.#timer = null;
        if (delayMs > 0) this.#intervalDue = true;
        this.#pump();
      }, delayMs),
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Sends what is ready (see {@link #fillSlots}), unless the collector fails: then the retry timer paces. */
  #pump(): void {
    this.#encodeFresh();
    this.#clearTimer();
    if (this.#failures === 0) this.#fillSlots();
    this.#resolveWaiters();
    this.#schedule();
  }

  /**
   * Starts sending batches while fewer than `maxConcurrentRequests` are in flight: ready ones
   * (see {@link #batchReady}), and, once the flush interval ran out, the queued events however
   * few, in one request; a trickle of events goes out one small batch per interval.
   */
  #fillSlots(): void {
    while (this.#inFlight.size < this.#options.maxConcurrentRequests) {
      const ready = this.#batchReady();
      if (!ready && !this.#intervalDue) break;
      const batch = this.#nextBatch();
      if (batch === null) break;
      if (!ready) this.#intervalDue = false;
      this.#start(batch);
    }
    if (!this.#hasWaiting()) this.#intervalDue = false;
  }

  /**
   * While the collector fails, one request at a time (spec 4.2): when none is in flight, the
   * next waits the retry delay of the consecutive failures, so that a collector that is down or
   * overloaded gets one request now and then instead of every batch at once.
   */
  #armRetry(): void {
    if (this.#inFlight.size > 0 || this.#retryTimer !== null || !this.#hasWaiting()) return;
    const { retryBaseMs, retryMaxMs, random } = this.#options;
    const delay = retryDelay(
      this.#failures - 1,
      this.#retryAfter,
      Date.now(),
      random,
      retryBaseMs,
      retryMaxMs,
    );
    // Outside any execution context, like the batch timer; unref'd unless a flush waits (see
    // flush()).
    this.#retryTimer = runOutsideContext(() =>
      setTimeout(() => {
        this.#retryTimer = null;
        this.#encodeFresh();
        const batch = this.#nextBatch();
        if (batch !== null) this.#start(batch);
      }, delay),
    );
    if (this.#waiters.length === 0) this.#retryTimer.unref();
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #start(batch: Batch): void {
    this.#inFlight.add(batch);
    batch.done = runOutsideContext(() => this.#send(batch))
      .catch((): AttemptEnd => {
        // #send never rejects; this keeps an unexpected bug from becoming an unhandled rejection.
        return 'done';
      })
      .then((end) => {
        // Requeued only once out of `#inFlight`: a batch is never in flight twice.
        this.#inFlight.delete(batch);
        if (end === 'requeue') this.#requeue(batch);
        else this.#release(batch);
        // A flush waits or a batch is ready: go on at once, without a timer (in `beforeExit`
        // an unref'd timer would let the process exit first).
        runOutsideContext(() => this.#pump());
      });
  }

  /** Puts a batch answered `retry` back at the end of the queue: what was queued before goes first. */
  #requeue(batch: Batch): void {
    batch.requeuedAt = this.#nextSeq;
    this.#retrying.push(batch);
  }

  /** The batch left the transport (delivered or dropped): its events leave the queue's bound. */
  #release(batch: Batch): void {
    this.#takenCount -= batch.count;
    this.#takenBytes -= batch.bytes;
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
    // Nobody waits any more: the retry delay must not keep the process alive (see flush()).
    if (waiting.length === 0) this.#retryTimer?.unref();
  }

  /**
   * One attempt at sending a batch; the answer is handled as spec 4.1 says. Says whether the
   * batch goes back to the queue for a retry. Never rejects.
   */
  async #send(batch: Batch): Promise<AttemptEnd> {
    const body = await this.#bodyOf(batch);
    if (body === null) return 'done';
    if (this.#abandoning !== null) {
      this.#lose(batch.count, batch.reported, this.#abandoning);
      return 'done';
    }
    if (batch.retryAnswers === 0) batch.deliveredMark = this.#stats.batchesSent;
    const result = await this.#post(batch, body);
    switch (classifyStatus(result.status)) {
      case 'delivered':
        this.#acknowledged(batch, 0);
        return 'done';
      case 'partial':
        this.#acknowledged(batch, countRejected(result.body, batch.count));
        return 'done';
      case 'dropped':
        this.#lose(
          batch.count,
          batch.reported,
          `refused by the collector: ${describeFailure(result)}`,
          result.status ?? undefined,
        );
        return 'done';
      case 'retry':
        return this.#failed(batch, result);
    }
  }

  /**
   * The body of a batch, built on its first attempt and kept for the retries: the same bytes,
   * so the same event ids, and the collector stores each id once. Null when it cannot be built
   * (the batch is counted as lost).
   */
  async #bodyOf(batch: Batch): Promise<BatchBody | null> {
    if (batch.body !== null) return batch.body;
    batch.reported = this.#unreported;
    this.#unreported = 0;
    try {
      batch.body = await encodeBatch(batch.groups, batch.reported, this.#gzip);
    } catch (error) {
      this.#lose(batch.count, batch.reported, `encoding failed: ${(error as Error).message}`);
      return null;
    }
    // The body holds the events now: the groups need not be kept as well.
    batch.groups = [];
    return batch.body;
  }

  /** The collector took the batch: all of it, or all but `rejected` events (422). */
  #acknowledged(batch: Batch, rejected: number): void {
    this.#collectorAnswers(batch.count);
    this.#stats.sent += batch.count - rejected;
    this.#stats.batchesSent++;
    if (rejected === 0) return;
    this.#stats.rejected += rejected;
    this.#stats.dropped += rejected;
    this.#unreported += rejected;
    this.#stats.lastError = `HTTP 422: ${rejected} of ${batch.count} events rejected`;
    this.#noteDrop(rejected, this.#stats.lastError);
  }

  /** The batch was answered `retry`: it goes back to the queue, or is dropped when it is time to give up. */
  #failed(batch: Batch, result: PostResult): AttemptEnd {
    const reason = describeFailure(result);
    this.#collectorFails(result, reason);
    batch.retryAnswers++;
    // A strike only when the collector took another batch since this one's previous answer
    // (or its sending): an outage is no batch's fault (spec 4.2).
    if (this.#stats.batchesSent > batch.deliveredMark) batch.strikes++;
    batch.deliveredMark = this.#stats.batchesSent;
    const givingUp = this.#givingUp(batch, result, reason);
    if (givingUp !== null) {
      this.#lose(batch.count, batch.reported, givingUp);
      return 'done';
    }
    this.#stats.retries++;
    this.#stats.lastError = reason;
    return 'requeue';
  }

  /** Why a batch just answered `retry` is not retried, or null when it is. */
  #givingUp(batch: Batch, result: PostResult, reason: string): string | null {
    if (this.#abandoning !== null) return reason;
    // On a natural exit nothing is worth waiting for when no collector even accepts the
    // connection: a script run without one exits at once instead of after the time limit.
    if (this.#exiting && result.status === null) return reason;
    if (batch.retryAnswers > this.#options.maxRetries) return reason;
    if (batch.strikes >= OWN_FAULT_STRIKES) {
      return `${reason} (${batch.strikes} times for this batch while the collector took others: given up)`;
    }
    return null;
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

  /** A `retry` answer: the collector is failing, and the next request waits (see {@link #armRetry}). */
  #collectorFails(result: PostResult, reason: string): void {
    this.#failures++;
    this.#retryAfter = result.retryAfter;
    this.#warnings.failing(reason, this.stats().queued);
    if (this.#unreachableSince !== null) return;
    this.#unreachableSince = Date.now();
    this.#log.debug(
      `collector unreachable at ${this.#options.endpoint.href} (${reason}): retrying with backoff, ${this.stats().queued} events held`,
    );
  }

  /** The collector took the batch of `answered` events: it is not failing (any more), all the slots are open. */
  #collectorAnswers(answered: number): void {
    if (this.#failures > 0) this.#warnings.recovered(this.#failures);
    this.#failures = 0;
    this.#retryAfter = undefined;
    if (this.#unreachableSince === null) return;
    const seconds = ((Date.now() - this.#unreachableSince) / 1000).toFixed(1);
    this.#unreachableSince = null;
    this.#log.debug(
      `collector reachable again at ${this.#options.endpoint.href} after ${seconds} s; ${this.stats().queued - answered} events still held`,
    );
  }

  /** Counts a batch as lost; its events and the drops it was reporting go into the next batch's `dropped`. */
  #lose(count: number, reported: number, reason: string, status?: number): void {
    this.#stats.dropped += count;
    this.#unreported += count + reported;
    this.#stats.lastError = reason;
    this.#noteDrop(count, reason, status);
  }

  /** A rate-limited warning (see {@link DeliveryWarnings}); with debug, every drop with counts. */
  #noteDrop(count: number, reason: string, status?: number): void {
    if (count <= 0) return;
    this.#warnings.dropped(count, reason, status);
    this.#log.debug(`dropped ${count} events: ${reason}; ${this.#stats.dropped} dropped in all`);
  }

  /** Gives up on everything held: aborts the requests in flight, drops the queue. */
  async #abandon(reason: string): Promise<void> {
    this.#abandoning = reason;
    try {
      this.#clearRetryTimer();
      let left = this.#queued;
      this.#fresh = [];
      this.#encoded = [];
      this.#queued = 0;
      this.#queuedBytes = 0;
      for (const batch of this.#retrying.splice(0)) {
        this.#release(batch);
        left += batch.count;
        // The drops its body was reporting go into a later batch's `dropped`.
        this.#unreported += batch.reported;
      }
      this.#stats.dropped += left;
      this.#unreported += left;
      this.#stats.lastError = reason;
      if (left > 0) this.#noteDrop(left, reason);
      const sending = Array.from(this.#inFlight);
      for (const batch of sending) batch.request?.abort();
      await Promise.all(sending.map((batch) => batch.done));
      this.#stats.lastError = reason;
    } finally {
      this.#abandoning = null;
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
