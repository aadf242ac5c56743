import { VectorClock } from '../clock/vector-clock.js';
import { type RacewayOptions, type ResolvedConfig, resolveConfig } from '../config.js';
import type { RacewayEvent } from '../events.js';
import { isValidSpanId, newComponent, newSpanId, newTraceId, normalizeTraceId } from '../ids.js';
import type { Diagnostics } from '../logger.js';
import { isSampledFlags } from '../propagation/trace-flags.js';
import { decideTraceFlags } from '../sampling/decide.js';
import { type RootSampler, rootSampler } from '../sampling/root-sampler.js';
import { sharedTransport } from '../transport/registry.js';
import type { ShutdownOptions, Transport } from '../transport/transport.js';
import type { ContextOwner, QueryCapture } from './context-owner.js';
import { ExecutionContext } from './execution-context.js';

/** What a new context continues: usually the result of `extractContext` on a request. */
export interface StartContextInit {
  /** The trace to join; a new trace is started when absent or invalid. */
  traceId?: string | null;
  /** The caller's span id (from `traceparent`); ignored unless it is a valid span id. */
  parentSpanId?: string | null;
  /**
   * The flags of the caller's `traceparent`, when one of the joined trace came in: its
   * sampling decision is kept. Without them the tracer's `sampleRate` decides (spec 5).
   */
  traceFlags?: string | null;
  /** The incoming clock; copied, never mutated. Ignored when a new trace is started. */
  clock?: VectorClock | null;
  /** Entries the incoming clock lacked (its `~dropped` marker). */
  clockDropped?: number;
  tracestate?: string | null;
}

/** Collaborators a tracer can be given instead of the defaults (tests, custom environments). */
export interface TracerDependencies {
  /** Where events go; by default the transport shared by every tracer with the same collector and API key. */
  transport?: Transport | null;
  /** Environment variables to read instead of `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The component of every unsampled context: it is never recorded nor sent (spec 5.4). */
const UNSAMPLED_COMPONENT = 'unsampled#00000000';

// Tracers are cached on globalThis for the same reason as the context storage: the ESM and the
// CJS build of this package, loaded side by side, must hand out the same tracer.
const CACHE_KEY = Symbol.for('raceway.core.tracers.v1');
type CacheHolder = { [CACHE_KEY]?: Map<string, Tracer> };

function tracerCache(): Map<string, Tracer> {
  const holder = globalThis as CacheHolder;
  let cache = holder[CACHE_KEY];
  if (cache === undefined) {
    cache = new Map();
    holder[CACHE_KEY] = cache;
  }
  return cache;
}

/**
 * The entry point of one service: its configuration, where its events go, and the factory of
 * its execution contexts. Several tracers can live in one process (a test that runs three
 * services side by side); they share one transport when they report to the same collector with
 * the same API key.
 *
 * Call `await tracer.shutdown()` before a process exits on a signal (SIGTERM from an
 * orchestrator): Raceway flushes by itself on a natural exit (`beforeExit`), but it never
 * installs signal handlers, which would change how the application stops.
 *
 * @example
 * const tracer = Tracer.fromOptions({ serviceName: 'checkout' });
 * process.once('SIGTERM', async () => {
 *   await tracer.shutdown();
 *   process.exit(0);
 * });
 */
export class Tracer implements ContextOwner {
  readonly service: string;
  readonly instance: string;
  readonly disabled: boolean;
  /** `null` when disabled. */
  readonly transport: Transport | null;
  readonly config: ResolvedConfig;
  /** How database queries are recorded (`captureQueries`, `captureValues`, `digestKey`). */
  readonly queryCapture: QueryCapture;

  /** Where Raceway's messages go (the `logger` and `debug` options). */
  get diagnostics(): Diagnostics {
    return this.config.diagnostics;
  }
  /** The root sampling decision for this tracer's `sampleRate` (spec 5.1). */
  readonly sampleRoot: RootSampler;

  /**
   * A tracer that is not cached. Prefer {@link Tracer.fromOptions}. Throws a
   * `RacewayConfigError` for invalid options.
   */
  constructor(options: RacewayOptions = {}, dependencies: TracerDependencies = {}) {
    this.config = resolveConfig(options, dependencies.env);
    this.service = this.config.serviceName;
    this.instance = this.config.instance;
    this.disabled = this.config.disabled;
    this.sampleRoot = rootSampler(this.config.sampleRate);
    this.queryCapture = Object.freeze({
      enabled: !this.disabled && this.config.captureQueries,
      values: this.config.captureValues,
      digestKey: this.config.digestKey,
    });
    if (this.disabled) this.transport = null;
    else if (dependencies.transport !== undefined) this.transport = dependencies.transport;
    else this.transport = sharedTransport(this.config);
  }

  /**
   * The tracer for these options (environment variables fill in what is missing). Cached per
   * (serviceName, serverUrl, apiKey): calling it again with the same three returns the same
   * tracer, and the other options of the first call stay in force. Throws a
   * `RacewayConfigError` for invalid options.
   *
   * @example
   * const tracer = Tracer.fromOptions({ serviceName: 'inventory', serverUrl: 'http://collector:8080' });
   * Tracer.fromOptions({ serviceName: 'inventory', serverUrl: 'http://collector:8080' }) === tracer; // true
   */
  static fromOptions(options: RacewayOptions = {}): Tracer {
    const config = resolveConfig(options);
    const key = JSON.stringify([config.serviceName, config.serverUrl, config.apiKey]);
    const cache = tracerCache();
    let tracer = cache.get(key);
    if (tracer === undefined) {
      tracer = new Tracer(options);
      cache.set(key, tracer);
    }
    return tracer;
  }

  /**
   * A new execution context: a new span id and a new own component; the clock is a copy of
   * the incoming clock, and the first event the context records adds its own entry (spec 3.2).
   *
   * @example
   * const incoming = extractContext(headersFromRecord(req.headers));
   * const ctx = tracer.startContext(incoming);
   * runInContext(ctx, () => handle(req, res));
   */
  startContext(init: StartContextInit = {}): ExecutionContext {
    const joined = typeof init.traceId === 'string' ? normalizeTraceId(init.traceId) : null;
    const traceId = joined ?? newTraceId();
    const traceFlags = decideTraceFlags(init.traceFlags, traceId, joined !== null, this.sampleRoot);
    const sampled = isSampledFlags(traceFlags);
    let clock = new VectorClock();
    // An unsampled context never sends or records its clock: no copy of the incoming one.
    if (joined !== null && init.clock instanceof VectorClock && sampled) {
      clock = init.clock.clone();
    }
    const clockDropped =
      joined !== null && Number.isSafeInteger(init.clockDropped) && (init.clockDropped ?? 0) > 0
        ? (init.clockDropped as number)
        : 0;
    return new ExecutionContext({
      owner: this,
      traceId,
      spanId: newSpanId(),
      parentSpanId: joined !== null && isValidSpanId(init.parentSpanId) ? init.parentSpanId : null,
      traceFlags,
      // An unsampled context never records or sends a clock: no random draw for its component.
      component: sampled ? newComponent(this.service) : UNSAMPLED_COMPONENT,
      clock,
      clockDropped,
      tracestate: joined !== null && typeof init.tracestate === 'string' ? init.tracestate : null,
    });
  }

  /** True when an outgoing call to `url` may carry trace headers (`propagateTo`). Never throws. */
  shouldPropagate(url: URL | string): boolean {
    if (this.disabled) return false;
    try {
      return this.config.propagateTo(typeof url === 'string' ? new URL(url) : url);
    } catch {
      return false;
    }
  }

  /** True when a server request to `path` is not traced (`ignorePaths`). Never throws. */
  shouldIgnorePath(path: string): boolean {
    return this.config.ignorePath(path);
  }

  /** Hands an event to the transport; a disabled tracer drops it. Never throws. */
  emit(event: RacewayEvent): void {
    if (!this.disabled) this.transport?.enqueue(event);
  }

  /** Resolves when every event recorded so far has been sent (or given up on). Never rejects. */
  flush(): Promise<void> {
    return this.transport?.flush() ?? Promise.resolve();
  }

  /**
   * Flushes (within a time limit) and stops the transport's timers. A shared transport is
   * reopened by the next event any tracer records. Never rejects.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    return this.transport?.shutdown(options) ?? Promise.resolve();
  }
}
