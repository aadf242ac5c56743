import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RacewayOptions } from '@raceway/core';
import {
  createServerLifecycle,
  middlewareNotCalledError,
  RacewayConfigError,
  reportMisuseOnce,
} from '@raceway/core/integration';

export type { RacewayOptions } from '@raceway/core';

/** A route Hono matched for the request, as its request object lists them. */
interface MatchedRoute {
  path: string;
  handler: unknown;
}

/**
 * The parts of Hono's context this middleware reads (Hono 4). Only `@hono/node-server` gives
 * the node request and response, as `c.env.incoming` and `c.env.outgoing`.
 */
export interface HonoContextLike {
  /** `HttpBindings` under `@hono/node-server`: `{ incoming, outgoing }`. */
  env?: unknown;
  req: {
    /** Every route matched for the request, middleware included, in order. */
    matchedRoutes?: MatchedRoute[];
    /** The index of the handler that ran last. */
    routeIndex?: number;
  };
  /** The error a handler threw, once Hono's `onError` has turned it into a response. */
  error?: unknown;
}

/** What {@link racewayMiddleware} returns: a Hono `MiddlewareHandler`. */
export type HonoMiddleware = (c: HonoContextLike, next: () => Promise<void>) => Promise<void>;

/**
 * Hono middleware (Hono 4 on Node, served by `@hono/node-server`) that traces every request:
 * joins the caller's trace (or starts one), runs the downstream middleware and handlers in its
 * execution context, records `request_received` and `response_sent` (with the matched route's
 * path, `/users/:id`), records the error a handler threw (which Hono answers through
 * `onError`), and returns `X-Raceway-Trace-Id` and `X-Raceway-VC` on the response. Register it
 * first. Throws a `RacewayConfigError` for invalid options, at once.
 *
 * @example
 * import { serve } from '@hono/node-server';
 * import { Hono } from 'hono';
 * import { racewayMiddleware } from '@raceway/hono';
 *
 * const app = new Hono();
 * app.use(racewayMiddleware({ serviceName: 'api-service', serverUrl: 'http://localhost:8080' }));
 * app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function racewayMiddleware(options?: RacewayOptions): HonoMiddleware;
export function racewayMiddleware(options: RacewayOptions = {}, ...rest: unknown[]): unknown {
  // `app.use(racewayMiddleware)`: Hono calls the factory itself with (c, next), per request.
  // Report it once, loudly, and let requests through untraced rather than fail each of them.
  const next = rest[rest.length - 1];
  if (isHonoMiddlewareCall(options, next)) {
    reportMisuseOnce(middlewareNotCalledError('@raceway/hono'));
    return (next as () => Promise<void>)();
  }
  const lifecycle = createServerLifecycle(options);
  const racewayHono: HonoMiddleware = async (c, next) => {
    const bindings = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
    const request = bindings?.incoming;
    const response = bindings?.outgoing;
    if (request === undefined || response === undefined) {
      // Not served by @hono/node-server (Bun, Deno, a Worker, app.request() in a test): there is
      // no node request to trace, and the runtime's own fetch handler owns the response.
      reportMisuseOnce(notOnNodeServerError());
      return next();
    }
    const span = lifecycle.start({ request, response });
    if (span === undefined) return next();
    try {
      await span.run(next);
    } catch (error) {
      // What Hono does not turn into a response itself (a thrown non-Error) goes on up.
      span.recordError(error);
      throw error;
    } finally {
      // Hono routes as it dispatches: the handler that ran last is the one that answered.
      span.setRoute(matchedRoute(c, racewayHono));
    }
    // Hono catches what a handler throws and answers it through onError, leaving it here.
    if (c.error !== undefined) span.recordError(c.error);
  };
  return racewayHono;
}

/** The path of the route whose handler ran last, unless that was this middleware (a 404). */
function matchedRoute(c: HonoContextLike, self: unknown): string | null {
  try {
    const { matchedRoutes, routeIndex } = c.req;
    if (!Array.isArray(matchedRoutes) || typeof routeIndex !== 'number') return null;
    const route = matchedRoutes[routeIndex];
    if (route === undefined || route.handler === self) return null;
    return typeof route.path === 'string' ? route.path : null;
  } catch {
    return null;
  }
}

/** `(c, next)` from Hono where options were expected: the factory was registered uncalled. */
function isHonoMiddlewareCall(first: unknown, last: unknown): boolean {
  if (typeof last !== 'function' || first === null || typeof first !== 'object') return false;
  const req = (first as { req?: { raw?: unknown } }).req;
  return req !== null && typeof req === 'object' && typeof req.raw === 'object';
}

function notOnNodeServerError(): RacewayConfigError {
  return new RacewayConfigError(
    'RACEWAY_INVALID_ARGUMENTS',
    "@raceway/hono traces apps served by @hono/node-server (c.env.incoming and c.env.outgoing are node's request and response); this request came without them, so it goes on untraced.",
  );
}
