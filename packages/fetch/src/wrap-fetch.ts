import {
  type ClientInstrumentationOptions,
  checkClientOptions,
  compileClientPropagateTo,
  RacewayConfigError,
  startClientCall,
} from '@raceway/core/integration';

/** The shape of a fetch function (global fetch, undici's, node-fetch's, a test double). */
export type FetchLike = (input: never, init?: never) => Promise<ResponseLike>;

/** What the wrapper reads from a response. */
interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
}

/** What the wrapper reads from a `Request` given as input. */
interface RequestInputLike {
  url: string;
  method?: string;
  headers?: unknown;
}

/**
 * Wraps a fetch implementation that does not go through undici (node-fetch, a polyfill, a
 * test double) so that its calls are traced like global fetch: inside an execution context,
 * each call records `request_sent` and `response_received`, carries the trace headers (replacing
 * existing copies) when `propagateTo` allows the target, and merges the callee's clock from the
 * response. The call ends when the response headers arrive. Outside a context the call goes
 * through untouched. Combined with {@link instrumentFetch}, a call is still traced once.
 *
 * @example
 * import nodeFetch from 'node-fetch';
 * import { wrapFetch } from '@raceway/fetch';
 *
 * const fetch = wrapFetch(nodeFetch);
 * const response = await fetch('http://inventory:3000/items/42');
 */
export function wrapFetch<F extends FetchLike>(
  fetchImpl: F,
  options: ClientInstrumentationOptions = {},
): F {
  if (typeof fetchImpl !== 'function') {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_ARGUMENTS',
      'wrapFetch(fetchImpl, options): the first argument must be a fetch function, such as wrapFetch(nodeFetch, { propagateTo: [...] })',
    );
  }
  checkClientOptions(options, 'wrapFetch');
  const propagateTo = compileClientPropagateTo(options.propagateTo);
  const call = fetchImpl as unknown as (input: unknown, init?: unknown) => Promise<ResponseLike>;
  async function racewayFetch(this: unknown, input: unknown, init?: unknown) {
    const request = describe(input, init);
    const clientCall = request && startClientCall({ ...request, propagateTo });
    if (clientCall === undefined) return call.call(this, input, init);
    let nextInit = init;
    if (Object.keys(clientCall.headers).length > 0) {
      try {
        const headers = new Headers(
          ((init as { headers?: ConstructorParameters<typeof Headers>[0] } | undefined)?.headers ??
            (input as RequestInputLike).headers) as
            | ConstructorParameters<typeof Headers>[0]
            | undefined,
        );
        // Headers.set replaces whatever the case of an existing copy.
        for (const [name, value] of Object.entries(clientCall.headers)) headers.set(name, value);
        nextInit = { ...(init as object | undefined), headers };
      } catch {
        // Headers that the platform cannot copy: send the call as it was.
      }
    }
    try {
      const response = await call.call(this, input, nextInit);
      clientCall.end({
        status: response.status,
        headers: (name) => response.headers.get(name) ?? undefined,
      });
      return response;
    } catch (error) {
      clientCall.end({ error });
      throw error;
    }
  }
  return racewayFetch as unknown as F;
}

function describe(input: unknown, init: unknown): { method: string; url: string } | undefined {
  try {
    const method = (init as { method?: unknown } | undefined)?.method;
    if (typeof input === 'string' || input instanceof URL) {
      return { method: typeof method === 'string' ? method : 'GET', url: String(input) };
    }
    if (
      input !== null &&
      typeof input === 'object' &&
      typeof (input as RequestInputLike).url === 'string'
    ) {
      const request = input as RequestInputLike;
      const own = typeof method === 'string' ? method : request.method;
      return { method: typeof own === 'string' ? own : 'GET', url: request.url };
    }
  } catch {
    // An input that throws on access: not traced.
  }
  return undefined;
}
