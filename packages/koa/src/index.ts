import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RacewayOptions } from '@raceway/core';
import {
  createServerLifecycle,
  isMiddlewareCall,
  middlewareNotCalledError,
  reportMisuseOnce,
} from '@raceway/core/integration';

export type { RacewayOptions } from '@raceway/core';

/** The parts of Koa's context this adapter reads (Koa 2 and 3 alike). */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  /** Set by `@koa/router` to the template of the matched route, prefix included. */
  _matchedRoute?: unknown;
}

/** What {@link racewayMiddleware} returns. */
export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * Koa middleware (Koa 2 and 3) that traces every request: joins the caller's trace (or starts
 * one), runs the downstream middleware in its execution context, records `request_received`
 * and `response_sent` (with `@koa/router`'s route template when there is one), records errors
 * thrown downstream (and rethrows them), and returns `X-Raceway-Trace-Id` and `X-Raceway-VC` on
 * the response. Register it first. Throws a `RacewayConfigError` for invalid options, at once.
 *
 * @example
 * import Koa from 'koa';
 * import { racewayMiddleware } from '@raceway/koa';
 *
 * const app = new Koa();
 * app.use(racewayMiddleware({ serviceName: 'api-service', serverUrl: 'http://localhost:8080' }));
 * app.use(router.routes());
 */
export function racewayMiddleware(options?: RacewayOptions): KoaMiddleware;
export function racewayMiddleware(options: RacewayOptions = {}, ...rest: unknown[]): unknown {
  // `app.use(racewayMiddleware)`: Koa calls the factory itself with (ctx, next), per request;
  // nothing runs at registration. Report it once, loudly, and let requests through untraced
  // rather than fail each of them.
  const next = rest[rest.length - 1];
  if (isMiddlewareCall(options, next)) {
    reportMisuseOnce(middlewareNotCalledError('@raceway/koa'));
    return (next as () => Promise<unknown>)();
  }
  const lifecycle = createServerLifecycle(options);
  return function racewayKoa(ctx: KoaContextLike, next: () => Promise<unknown>): Promise<unknown> {
    const span = lifecycle.start({
      request: ctx.req,
      response: ctx.res,
      // Koa keeps the route on its context, not on the request.
      getRoute: () => (typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : null),
    });
    if (span === undefined) return next();
    return span.run(() =>
      next().catch((error: unknown) => {
        span.recordError(error);
        throw error;
      }),
    );
  };
}
