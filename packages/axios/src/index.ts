import {
  type ClientCall,
  type ClientInstrumentationOptions,
  checkClientOptions,
  compileClientPropagateTo,
  headersFromRecord,
  headersIntoRecord,
  RacewayConfigError,
  startClientCall,
} from '@raceway/core/integration';
import axios, {
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';

/** Options of {@link instrumentAxios}. */
export type AxiosInstrumentationOptions = ClientInstrumentationOptions;

// Registered symbols: the ESM and CJS builds of this package, loaded side by side, must see each
// other's installation on an instance, or every call would be recorded twice.
const INSTALLED = Symbol.for('raceway.axios.installation.v1');
const CALL = Symbol.for('raceway.axios.call.v1');

interface Installation {
  propagateTo: ((url: URL) => boolean) | undefined;
  request: number;
  response: number;
}

type InstrumentedInstance = AxiosInstance & { [INSTALLED]?: Installation };
type TracedConfig = InternalAxiosRequestConfig & { [CALL]?: ClientCall };

/**
 * Traces the calls of an axios instance (the default `axios` when none is given) with a request
 * and a response interceptor: inside an execution context, each call gets a client span,
 * records `request_sent` and `response_received` (status, duration, network error), carries the
 * trace headers (replacing existing copies) when `propagateTo` allows the target, and merges the
 * callee's clock from the response. Calls made outside a context are left untouched.
 *
 * Each instance made with `axios.create()` has its own interceptors: instrument each one you
 * use. Instrumenting an instance again only replaces the options. Returns the instance. Throws a
 * `RacewayConfigError` for an invalid `propagateTo`.
 *
 * @example
 * import axios from 'axios';
 * import { instrumentAxios } from '@raceway/axios';
 *
 * instrumentAxios(); // the default instance
 * const inventory = instrumentAxios(axios.create({ baseURL: 'http://inventory:3000' }));
 * // inside a traced request handler:
 * const { data } = await inventory.get('/items/42'); // carries the trace headers
 */
export function instrumentAxios(
  instance: AxiosInstance = axios,
  options: AxiosInstrumentationOptions = {},
): AxiosInstance {
  if (!isAxiosInstance(instance)) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_ARGUMENTS',
      `instrumentAxios(instance, options): the first argument must be an axios instance (axios, or one made with axios.create()), got ${describeArgument(instance)}; for the default instance with options write instrumentAxios(axios, { propagateTo: [...] })`,
    );
  }
  checkClientOptions(options, 'instrumentAxios');
  const propagateTo = compileClientPropagateTo(options.propagateTo);
  const target = instance as InstrumentedInstance;
  const existing = target[INSTALLED];
  if (existing !== undefined) {
    existing.propagateTo = propagateTo;
    return instance;
  }
  const installation: Installation = { propagateTo, request: -1, response: -1 };
  installation.request = instance.interceptors.request.use((config) =>
    startCall(instance, config, installation),
  );
  installation.response = instance.interceptors.response.use(
    (response) => {
      endCall(response.config, response);
      return response;
    },
    (error: unknown) => {
      const failure = error as { config?: InternalAxiosRequestConfig; response?: AxiosResponse };
      if (failure?.response) endCall(failure.config, failure.response);
      else endCall(failure?.config, undefined, error);
      return Promise.reject(error);
    },
  );
  target[INSTALLED] = installation;
  return instance;
}

function isAxiosInstance(value: unknown): value is AxiosInstance {
  const interceptors = (value as { interceptors?: { request?: { use?: unknown } } } | null)
    ?.interceptors;
  return typeof interceptors?.request?.use === 'function';
}

function describeArgument(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const keys = Object.keys(value).slice(0, 5);
  return keys.length === 0 ? 'an empty object' : `an object with ${keys.join(', ')}`;
}

/**
 * Removes the interceptors {@link instrumentAxios} added to an instance (the default `axios`
 * when none is given).
 *
 * @example
 * uninstrumentAxios(inventory);
 */
export function uninstrumentAxios(instance: AxiosInstance = axios): void {
  const target = instance as InstrumentedInstance;
  const installation = target[INSTALLED];
  if (installation === undefined) return;
  instance.interceptors.request.eject(installation.request);
  instance.interceptors.response.eject(installation.response);
  delete target[INSTALLED];
}

function startCall(
  instance: AxiosInstance,
  config: InternalAxiosRequestConfig,
  installation: Installation,
): InternalAxiosRequestConfig {
  try {
    const call = startClientCall({
      method: config.method?.toUpperCase(),
      url: instance.getUri(config),
      propagateTo: installation.propagateTo,
      // The adapter runs after the interceptors: OpenTelemetry's http instrumentation there
      // replaces the traceparent with its client span's, which the call then takes (spec 2.8).
      traceparentMayBeReplaced: true,
    });
    if (call === undefined) return config;
    (config as TracedConfig)[CALL] = call;
    const headers = config.headers as unknown;
    for (const [name, value] of Object.entries(call.headers)) {
      if (headers && typeof (headers as { set?: unknown }).set === 'function') {
        // AxiosHeaders matches names case-insensitively; `true` replaces an existing value.
        (headers as { set(name: string, value: string, rewrite: boolean): void }).set(
          name,
          value,
          true,
        );
      } else if (headers && typeof headers === 'object') {
        headersIntoRecord(headers as Record<string, unknown>)(name, value);
      }
    }
  } catch {
    // Instrumentation never breaks the application's request.
  }
  return config;
}

function endCall(
  config: InternalAxiosRequestConfig | undefined,
  response: AxiosResponse | undefined,
  error?: unknown,
): void {
  const call = (config as TracedConfig | undefined)?.[CALL];
  if (call === undefined) return;
  call.sent(sentTraceparent(response?.request ?? (error as { request?: unknown })?.request));
  if (response === undefined) {
    call.end({ error });
    return;
  }
  const headers = headersFromRecord(
    (typeof response.headers?.toJSON === 'function'
      ? response.headers.toJSON()
      : (response.headers ?? {})) as Record<string, string | string[]>,
  );
  call.end({ status: response.status, headers });
}

/**
 * The `traceparent` the adapter's request went out with: node's `ClientRequest` (or
 * follow-redirects' wrapper of it, which passes `getHeader` on) for the http adapter; undefined
 * for the others.
 */
function sentTraceparent(request: unknown): string | undefined {
  try {
    const getHeader = (request as { getHeader?: unknown } | null | undefined)?.getHeader;
    if (typeof getHeader !== 'function') return undefined;
    const value: unknown = getHeader.call(request, 'traceparent');
    const single = Array.isArray(value) && value.length === 1 ? value[0] : value;
    return typeof single === 'string' ? single : undefined;
  } catch {
    return undefined;
  }
}
