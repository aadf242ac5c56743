import { hostname } from 'node:os';
import { DEFAULT_DIGEST_KEY } from './db/param-digest.js';
import { closestName } from './did-you-mean.js';
import { misspeltVariables } from './env-names.js';
import { describeValue, RacewayConfigError, type RacewayConfigErrorCode } from './errors.js';
import { consoleLogger, Diagnostics, type RacewayLogger } from './logger.js';
import { otelEnvironment, otelResourceAttributes, otelServiceVersion } from './otel-resource.js';
import { DEFAULT_SAMPLE_RATE, isSampleRate, parseSampleRate } from './sampling/sample-rate.js';
import {
  compileIgnorePaths,
  compilePropagateTo,
  compilePropagateToList,
  type PropagateToOption,
} from './url-filters.js';

/**
 * Options of a {@link Tracer}. Every option can be omitted; the environment fills in what the
 * code leaves out, and an option given in code always wins over the environment.
 */
export interface RacewayOptions {
  /** The service's name, shown everywhere in Raceway. Env `RACEWAY_SERVICE_NAME`, else `OTEL_SERVICE_NAME`. Required (1-128 characters) unless disabled. */
  serviceName?: string;
  /**
   * Where the service runs (`production`, `staging`). Env `RACEWAY_ENVIRONMENT`, else
   * `deployment.environment.name` (or `deployment.environment`) in `OTEL_RESOURCE_ATTRIBUTES`.
   * Default none.
   */
  environment?: string;
  /**
   * The service's version. Env `RACEWAY_VERSION`, else `service.version` in
   * `OTEL_RESOURCE_ATTRIBUTES`. Default none.
   */
  version?: string;
  /** Collector base URL (`/v1/events` is appended). Env `RACEWAY_URL`. Default `http://127.0.0.1:8080`. */
  serverUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. Env `RACEWAY_API_KEY`. */
  apiKey?: string;
  /** No context, no events, no headers. Env `RACEWAY_DISABLED` (`1`, `true`, `yes`, `on`), else `OTEL_SDK_DISABLED` (`true`). */
  disabled?: boolean;
  /** Which process of the service this is. Env `RACEWAY_INSTANCE`. Default `<hostname>:<pid>`. */
  instance?: string;
  /**
   * Logs what Raceway does through `logger`: the resolved configuration, the collector becoming
   * unreachable and reachable again, dropped events with counts, hosts that get no trace
   * headers. Env `RACEWAY_DEBUG` (`1`, `true`, `yes`, `on`). Default false: then only the first
   * drop of events is logged, as one warning.
   */
  debug?: boolean;
  /** Where Raceway's messages go: any object with `debug`, `warn` and `error`. Default `console`, prefixed with `[raceway]`. */
  logger?: RacewayLogger;
  /** Events per request to the collector (1-5000). Default 200. */
  batchSize?: number;
  /** Longest time an event waits in the queue before a batch is sent, in ms. Default 1000. */
  flushIntervalMs?: number;
  /** Events held in memory at most, in flight included; beyond it new events are dropped and counted. Default 100000. */
  maxQueueSize?: number;
  /** Bytes of encoded events held in memory at most, in flight included; beyond it new events are dropped and counted. Default 64 MiB. */
  maxQueueBytes?: number;
  /**
   * Retries of a batch after a network error, 408, 429 or 5xx (0-100). Default: no limit, a
   * batch is retried (backoff with jitter, at most 5 s apart) until the collector takes it, so
   * that an outage loses nothing while the queue has room.
   */
  maxRetries?: number;
  /** Time limit of one request to the collector, in ms. Default 10000. */
  requestTimeoutMs?: number;
  /**
   * Outgoing URLs that receive trace headers (spec 6): hostnames, `host:port`, `*.suffix`
   * wildcards, CIDR ranges, addresses, `*` for every host, origins, RegExps tested against the
   * whole URL, or a predicate. Env `RACEWAY_PROPAGATE_TO` (comma-separated host patterns).
   * Replaces the default ({@link defaultPropagateTo}: loopback, private, shared and link-local
   * addresses, `localhost`, single-label names, `*.local`, `*.internal`, `*.svc`). Client
   * calls are recorded either way.
   */
  propagateTo?: PropagateToOption;
  /** Server paths that are not traced. Default `['/healthz', '/health', '/favicon.ico']`. */
  ignorePaths?: Array<string | RegExp>;
  /**
   * Share of new traces recorded, from 0 to 1 (spec 5). Env `RACEWAY_SAMPLE_RATE`. Default 1.
   * Only traces that start here are decided by it: a caller's `traceparent` decision is kept.
   * Within a sampled trace every race is seen; a race across two traces needs both sampled.
   */
  sampleRate?: number;
  /**
   * Records a `db_query` event for each statement an instrumented database driver runs
   * (`@raceway/pg`, `@raceway/mysql2`, `@raceway/better-sqlite3`; spec 4.3). Env
   * `RACEWAY_DB_CAPTURE`. Default true.
   */
  captureQueries?: boolean;
  /**
   * Also sends each query parameter's raw value beside its digest. Env
   * `RACEWAY_DB_CAPTURE_VALUES`. Default false: no parameter value leaves the service.
   */
  captureValues?: boolean;
  /**
   * The key of the parameter digests (HMAC-SHA256): services whose digests must compare share
   * it. Env `RACEWAY_DIGEST_KEY`. Default `raceway-digest-v1`.
   */
  digestKey?: string;
}

/** A validated configuration with every default applied. */
export interface ResolvedConfig {
  readonly serviceName: string;
  /** The deployment environment, or null when none is configured. */
  readonly environment: string | null;
  /** The service's version, or null when none is configured. */
  readonly version: string | null;
  /** Normalised collector base URL, without a trailing slash. */
  readonly serverUrl: string;
  /** The ingestion endpoint, `<serverUrl>/v1/events`. */
  readonly endpoint: URL;
  readonly apiKey: string | null;
  readonly disabled: boolean;
  readonly instance: string;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  /** `Infinity` when not limited. */
  readonly maxRetries: number;
  readonly requestTimeoutMs: number;
  /** Compiled `propagateTo`; never throws. */
  readonly propagateTo: (url: URL) => boolean;
  /** Compiled `ignorePaths`; never throws. */
  readonly ignorePath: (path: string) => boolean;
  /** Root sampling rate, 0 to 1. */
  readonly sampleRate: number;
  /** Whether database queries are recorded (`captureQueries`). */
  readonly captureQueries: boolean;
  /** Whether raw parameter values are recorded beside their digests (`captureValues`). */
  readonly captureValues: boolean;
  /** The key of parameter digests (`digestKey`). */
  readonly digestKey: string;
  readonly debug: boolean;
  /** The `logger` and `debug` options, as every part of the tracer uses them. */
  readonly diagnostics: Diagnostics;
}

/** The collector a tracer talks to when neither `serverUrl` nor `RACEWAY_URL` is set. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

/** Defaults of the transport options. */
export const TRANSPORT_DEFAULTS = Object.freeze({
  batchSize: 200,
  flushIntervalMs: 1000,
  maxQueueSize: 100_000,
  maxQueueBytes: 64 * 1024 * 1024,
  maxRetries: Number.POSITIVE_INFINITY,
  requestTimeoutMs: 10_000,
});

/**
 * Every option name, so that a misspelt one (`serverURL`) is refused with a suggestion instead
 * of being ignored. Typed so that an option added to {@link RacewayOptions} must be added here.
 */
const OPTION_NAMES: Readonly<Record<keyof RacewayOptions, true>> = {
  serviceName: true,
  environment: true,
  version: true,
  serverUrl: true,
  apiKey: true,
  disabled: true,
  instance: true,
  debug: true,
  logger: true,
  batchSize: true,
  flushIntervalMs: true,
  maxQueueSize: true,
  maxQueueBytes: true,
  maxRetries: true,
  requestTimeoutMs: true,
  propagateTo: true,
  ignorePaths: true,
  sampleRate: true,
  captureQueries: true,
  captureValues: true,
  digestKey: true,
};
const KNOWN_OPTIONS: readonly string[] = Object.keys(OPTION_NAMES);

/** Service name used by a disabled tracer that was given none (it never appears on the wire). */
const DISABLED_SERVICE_NAME = 'unknown_service';
const MAX_NAME_LENGTH = 128; // event.schema.json: service and instance
const API_KEY = /^[\x21-\x7e]+$/;
// Node timers overflow above 2^31-1 ms and then fire immediately.
const MAX_TIMER_MS = 2_147_483_647;
const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);
/**
 * Characters no name may hold (spec 4, event.schema.json): controls, zero-width characters and
 * bidirectional formatting, which would make a name in the UI read as another.
 */
const NOT_IN_NAMES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates options, fills in the environment and defaults. Throws a {@link RacewayConfigError}
 * with a stable code for anything it refuses, so that a misconfiguration shows at startup.
 *
 * @example
 * const config = resolveConfig({ serviceName: 'checkout' }, { RACEWAY_URL: 'http://collector:8080' });
 * config.endpoint.href; // 'http://collector:8080/v1/events'
 */
export function resolveConfig(
  options: RacewayOptions = {},
  env: Env = process.env,
): ResolvedConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail('RACEWAY_INVALID_OPTIONS', `options must be an object, got ${describeValue(options)}`);
  }
  rejectUnknownOptions(options);
  const disabled =
    resolveBoolean(
      options.disabled,
      'disabled',
      env,
      'RACEWAY_DISABLED',
      'RACEWAY_INVALID_DISABLED',
    ) ?? otelSdkDisabled(env);
  const debug =
    resolveBoolean(options.debug, 'debug', env, 'RACEWAY_DEBUG', 'RACEWAY_INVALID_DEBUG') ?? false;
  const diagnostics = new Diagnostics(resolveLogger(options.logger), debug);
  for (const [variable, meant] of misspeltVariables(Object.keys(env))) {
    diagnostics.warn(`${variable} is set but not read (did you mean ${meant}?)`);
  }
  const serviceName = resolveServiceName(
    options.serviceName,
    env.RACEWAY_SERVICE_NAME,
    env.OTEL_SERVICE_NAME,
    disabled,
  );
  const otelResource = otelResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
  const { serverUrl, endpoint } = resolveServerUrl(options.serverUrl ?? nonEmpty(env.RACEWAY_URL));
  const propagateTo = compileOrFail(
    () => resolvePropagateTo(options.propagateTo, env.RACEWAY_PROPAGATE_TO),
    options.propagateTo !== undefined ? 'propagateTo' : 'RACEWAY_PROPAGATE_TO',
    'RACEWAY_INVALID_PROPAGATE_TO',
  );
  const config: ResolvedConfig = {
    serviceName,
    environment: resolveResourceName(
      options.environment,
      'environment',
      env.RACEWAY_ENVIRONMENT,
      'RACEWAY_ENVIRONMENT',
      otelEnvironment(otelResource),
      'RACEWAY_INVALID_ENVIRONMENT',
    ),
    version: resolveResourceName(
      options.version,
      'version',
      env.RACEWAY_VERSION,
      'RACEWAY_VERSION',
      otelServiceVersion(otelResource),
      'RACEWAY_INVALID_VERSION',
    ),
    serverUrl,
    endpoint,
    apiKey: resolveApiKey(options.apiKey, env.RACEWAY_API_KEY),
    disabled,
    instance: resolveInstance(options.instance, env.RACEWAY_INSTANCE),
    batchSize: integer(options.batchSize, 'batchSize', 'RACEWAY_INVALID_BATCH_SIZE', 1, 5000),
    flushIntervalMs: integer(
      options.flushIntervalMs,
      'flushIntervalMs',
      'RACEWAY_INVALID_FLUSH_INTERVAL',
      1,
      MAX_TIMER_MS,
    ),
    maxQueueSize: integer(
      options.maxQueueSize,
      'maxQueueSize',
      'RACEWAY_INVALID_MAX_QUEUE_SIZE',
      1,
      10_000_000,
    ),
    maxQueueBytes: integer(
      options.maxQueueBytes,
      'maxQueueBytes',
      'RACEWAY_INVALID_MAX_QUEUE_BYTES',
      1024,
      2 ** 32,
    ),
    maxRetries: integer(options.maxRetries, 'maxRetries', 'RACEWAY_INVALID_MAX_RETRIES', 0, 100),
    requestTimeoutMs: integer(
      options.requestTimeoutMs,
      'requestTimeoutMs',
      'RACEWAY_INVALID_REQUEST_TIMEOUT',
      1,
      MAX_TIMER_MS,
    ),
    propagateTo,
    ignorePath: compileOrFail(
      () => compileIgnorePaths(options.ignorePaths),
      'ignorePaths',
      'RACEWAY_INVALID_IGNORE_PATHS',
    ),
    sampleRate: resolveSampleRate(options.sampleRate, env.RACEWAY_SAMPLE_RATE),
    captureQueries:
      resolveBoolean(
        options.captureQueries,
        'captureQueries',
        env,
        'RACEWAY_DB_CAPTURE',
        'RACEWAY_INVALID_DB_CAPTURE',
      ) ?? true,
    captureValues:
      resolveBoolean(
        options.captureValues,
        'captureValues',
        env,
        'RACEWAY_DB_CAPTURE_VALUES',
        'RACEWAY_INVALID_DB_CAPTURE_VALUES',
      ) ?? false,
    digestKey: resolveDigestKey(options.digestKey, env.RACEWAY_DIGEST_KEY),
    debug,
    diagnostics,
  };
  if (debug) logResolvedConfig(config);
  return config;
}

function rejectUnknownOptions(options: object): void {
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(OPTION_NAMES, name)) continue;
    const suggestion = closestName(name, KNOWN_OPTIONS);
    fail(
      'RACEWAY_UNKNOWN_OPTION',
      suggestion === null
        ? `unknown option ${describeValue(name)}; the options are ${KNOWN_OPTIONS.join(', ')}`
        : `unknown option ${describeValue(name)}: did you mean ${describeValue(suggestion)}?`,
    );
  }
}

function resolveLogger(option: unknown): RacewayLogger {
  if (option === undefined) return consoleLogger;
  const logger = option as Partial<Record<keyof RacewayLogger, unknown>> | null;
  if (
    logger === null ||
    typeof logger !== 'object' ||
    typeof logger.debug !== 'function' ||
    typeof logger.warn !== 'function' ||
    typeof logger.error !== 'function'
  ) {
    return fail(
      'RACEWAY_INVALID_LOGGER',
      `logger must be an object with debug, warn and error functions, got ${describeValue(option)}`,
    );
  }
  // Called as methods, so that a logger whose methods need `this` (pino, winston) works.
  const target = option as RacewayLogger;
  return {
    debug: (message) => target.debug(message),
    warn: (message) => target.warn(message),
    error: (message) => target.error(message),
  };
}

// Once per distinct configuration and process: Tracer.fromOptions resolves the same options
// more than once, and several middlewares of one service share them.
const LOGGED_KEY = Symbol.for('raceway.core.logged-configs.v1');
type LoggedHolder = { [LOGGED_KEY]?: Set<string> };

function logResolvedConfig(config: ResolvedConfig): void {
  const shown = {
    serviceName: config.serviceName,
    instance: config.instance,
    environment: config.environment,
    version: config.version,
    endpoint: config.endpoint.href,
    apiKey: config.apiKey === null ? 'none' : 'set',
    sampleRate: config.sampleRate,
    batchSize: config.batchSize,
    flushIntervalMs: config.flushIntervalMs,
    maxQueueSize: config.maxQueueSize,
    maxQueueBytes: config.maxQueueBytes,
    maxRetries: Number.isFinite(config.maxRetries) ? config.maxRetries : 'unlimited',
    requestTimeoutMs: config.requestTimeoutMs,
    captureQueries: config.captureQueries,
    captureValues: config.captureValues,
    digestKey: config.digestKey === DEFAULT_DIGEST_KEY ? 'default' : 'set',
    disabled: config.disabled,
  };
  const line = `config ${JSON.stringify(shown)}`;
  const holder = globalThis as LoggedHolder;
  holder[LOGGED_KEY] ??= new Set();
  if (holder[LOGGED_KEY].has(line)) return;
  holder[LOGGED_KEY].add(line);
  config.diagnostics.debug(line);
}

/** The option wins; else `RACEWAY_PROPAGATE_TO`; else the default internal hosts (spec 6). */
function resolvePropagateTo(
  option: PropagateToOption | undefined,
  envValue: string | undefined,
): (url: URL) => boolean {
  if (option !== undefined) return compilePropagateTo(option);
  return compilePropagateToList(envValue) ?? compilePropagateTo(undefined);
}

function resolveSampleRate(option: unknown, envValue: string | undefined): number {
  if (option !== undefined) {
    if (!isSampleRate(option)) {
      fail(
        'RACEWAY_INVALID_SAMPLE_RATE',
        `sampleRate must be a number from 0 to 1, got ${describeValue(option)}`,
      );
    }
    return option;
  }
  const rate = parseSampleRate(envValue);
  if (rate === null) {
    fail(
      'RACEWAY_INVALID_SAMPLE_RATE',
      `RACEWAY_SAMPLE_RATE must be a decimal number from 0 to 1 (such as 0.25), got ${describeValue(envValue)}`,
    );
  }
  return rate ?? DEFAULT_SAMPLE_RATE;
}

function fail(code: RacewayConfigErrorCode, message: string): never {
  throw new RacewayConfigError(code, message);
}

function nonEmpty(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The option, else the variable; undefined when neither says (spec 7 c). */
function resolveBoolean(
  option: unknown,
  name: string,
  env: Env,
  variable: string,
  code: RacewayConfigErrorCode,
): boolean | undefined {
  if (option !== undefined) {
    if (typeof option !== 'boolean') {
      fail(code, `${name} must be a boolean, got ${describeValue(option)}`);
    }
    return option;
  }
  const word = env[variable]?.trim().toLowerCase();
  if (word === undefined || word === '') return undefined;
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return fail(
    code,
    `${variable} must be one of 1, true, yes, on, 0, false, no, off, got ${describeValue(env[variable])}`,
  );
}

/**
 * OpenTelemetry's `OTEL_SDK_DISABLED`, read as OpenTelemetry reads it: true only for `true` in
 * any case; any other value is false, never an error (it is not Raceway's variable).
 */
function otelSdkDisabled(env: Env): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

function resolveServiceName(
  option: unknown,
  envValue: string | undefined,
  otelValue: string | undefined,
  disabled: boolean,
): string {
  // OpenTelemetry's variable comes second, so that a service traced by both has one name.
  let source = 'serviceName';
  let raw: unknown = option;
  if (raw === undefined) {
    source = 'RACEWAY_SERVICE_NAME';
    raw = nonEmpty(envValue);
  }
  if (raw === undefined) {
    source = 'OTEL_SERVICE_NAME';
    raw = nonEmpty(otelValue);
  }
  if (raw === undefined) {
    if (disabled) return DISABLED_SERVICE_NAME;
    return fail(
      'RACEWAY_MISSING_SERVICE_NAME',
      'a service name is required: pass { serviceName } or set RACEWAY_SERVICE_NAME (or OTEL_SERVICE_NAME)',
    );
  }
  return validName(raw, source, 'RACEWAY_INVALID_SERVICE_NAME');
}

/**
 * The option, else Raceway's variable, else OpenTelemetry's resource attribute (spec 7 e). The
 * first two are refused when they break the name rules; OpenTelemetry's value is then ignored
 * instead (never an error: it is not Raceway's variable).
 */
function resolveResourceName(
  option: unknown,
  optionName: string,
  envValue: string | undefined,
  variable: string,
  otelValue: string | undefined,
  code: RacewayConfigErrorCode,
): string | null {
  if (option !== undefined) return validName(option, optionName, code);
  const raw = nonEmpty(envValue);
  if (raw !== undefined) return validName(raw, variable, code);
  const otel = otelValue?.trim();
  if (otel === undefined || !isValidName(otel)) return null;
  return otel;
}

function resolveInstance(option: unknown, envValue: string | undefined): string {
  const source = option !== undefined ? 'instance' : 'RACEWAY_INSTANCE';
  const raw = option !== undefined ? option : nonEmpty(envValue);
  if (raw === undefined) return `${hostname()}:${process.pid}`.slice(-MAX_NAME_LENGTH);
  return validName(raw, source, 'RACEWAY_INVALID_INSTANCE');
}

function validName(raw: unknown, source: string, code: RacewayConfigErrorCode): string {
  if (typeof raw !== 'string') fail(code, `${source} must be a string, got ${describeValue(raw)}`);
  const name = raw.trim();
  if (!isValidName(name)) {
    fail(
      code,
      `${source} must be 1-${MAX_NAME_LENGTH} characters without control, zero-width or bidirectional-formatting characters, got ${describeValue(raw)}`,
    );
  }
  return name;
}

/** Whether a trimmed name keeps the rules of names (spec 4): 1-128 characters, none invisible. */
function isValidName(name: string): boolean {
  return name !== '' && name.length <= MAX_NAME_LENGTH && !NOT_IN_NAMES.test(name);
}

function resolveServerUrl(raw: unknown): { serverUrl: string; endpoint: URL } {
  if (raw === undefined) raw = DEFAULT_SERVER_URL;
  if (typeof raw !== 'string') {
    fail('RACEWAY_INVALID_URL', `serverUrl must be a string, got ${describeValue(raw)}`);
  }
  let base: URL;
  try {
    base = new URL(raw.trim());
  } catch {
    return fail('RACEWAY_INVALID_URL', `serverUrl is not a valid URL: ${describeValue(raw)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    fail(
      'RACEWAY_INVALID_URL',
      `serverUrl must be an http: or https: URL, got ${describeValue(raw)}`,
    );
  }
  if (base.username !== '' || base.password !== '') {
    fail('RACEWAY_INVALID_URL', 'serverUrl must not contain credentials; use apiKey instead');
  }
  if (base.search !== '' || base.hash !== '') {
    fail(
      'RACEWAY_INVALID_URL',
      `serverUrl must not have a query or fragment, got ${describeValue(raw)}`,
    );
  }
  // A base path is kept (a collector behind a reverse proxy at /raceway).
  const pathname = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  const endpoint = new URL(`${pathname}v1/events`, base.origin);
  return { serverUrl: `${base.origin}${pathname.slice(0, -1)}`, endpoint };
}

function resolveApiKey(option: unknown, envValue: string | undefined): string | null {
  const source = option !== undefined ? 'apiKey' : 'RACEWAY_API_KEY';
  const raw = option !== undefined ? option : envValue;
  if (raw === undefined) return null;
  if (typeof raw !== 'string') {
    fail('RACEWAY_INVALID_API_KEY', `${source} must be a string, got ${describeValue(typeof raw)}`);
  }
  const key = raw.trim();
  // An empty value is what an unset variable interpolated into the options looks like.
  if (key === '') return null;
  if (!API_KEY.test(key)) {
    // The key itself is never echoed: it is a secret.
    fail('RACEWAY_INVALID_API_KEY', `${source} must be visible ASCII characters without spaces`);
  }
  return key;
}

/** Like the API key: trimmed, a blank variable is unset; never echoed (it is a secret). */
function resolveDigestKey(option: unknown, envValue: string | undefined): string {
  if (option !== undefined) {
    if (typeof option !== 'string' || option.trim() === '') {
      fail(
        'RACEWAY_INVALID_DIGEST_KEY',
        `digestKey must be a non-empty string, got ${typeof option === 'string' ? 'an empty string' : describeValue(typeof option)}`,
      );
    }
    return option.trim();
  }
  return nonEmpty(envValue) ?? DEFAULT_DIGEST_KEY;
}

function integer(
  value: unknown,
  name: keyof typeof TRANSPORT_DEFAULTS,
  code: RacewayConfigErrorCode,
  min: number,
  max: number,
): number {
  if (value === undefined) return TRANSPORT_DEFAULTS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(code, `${name} must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

function compileOrFail<T>(compile: () => T, name: string, code: RacewayConfigErrorCode): T {
  try {
    return compile();
  } catch (error) {
    return fail(code, `${name} ${(error as Error).message}`);
  }
}
