import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RacewayOptions } from '@raceway/core';
import {
  createServerLifecycle,
  isMiddlewareCall,
  middlewareNotCalledError,
  reportMisuseOnce,
  serverSpanOf,
} from '@raceway/core/integration';

export type { RacewayOptions } from '@raceway/core';

/** The parts of Express' request this adapter reads (Express 4 and 5 alike). */
type ExpressRequest = IncomingMessage & {
  route?: { path?: unknown };
  baseUrl?: string;
};

/** Express' `next`. */
type Next = (error?: unknown) => void;

/** What {@link racewayMiddleware} returns. */
export type ExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

function passThrough(_req: IncomingMessage, _res: ServerResponse, next: Next): void {
  next();
}

/**
 * Express middleware (Express 4 and 5) that traces every request: joins the caller's trace (or
 * starts one), runs the rest of the request in its execution context, records
 * `request_received` and `response_sent` (with the route template, e.g. `/users/:id`), and
 * returns `X-Raceway-Trace-Id` and `X-Raceway-VC` on the response. Register it before any other
 * middleware. Throws a `RacewayConfigError` for invalid options, at once.
 *
 * @example
 * import express from 'express';
 * import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
 *
 * const app = express();
 * app.use(racewayMiddleware({ serviceName: 'api-service', serverUrl: 'http://localhost:8080' }));
 * app.get('/users/:id', handler);
 * app.use(racewayErrorHandler()); // after the routes: records errors passed to error middleware
 */
export function racewayMiddleware(options?: RacewayOptions): ExpressMiddleware;
export function racewayMiddleware(
  options: RacewayOptions = {},
  ...rest: unknown[]
): ExpressMiddleware {
  // `app.use(racewayMiddleware)`: Express calls the factory itself with (req, res, next), per
  // request; nothing runs at registration. Report it once, loudly, and let requests through
  // untraced rather than fail each of them.
  const next = rest[rest.length - 1];
  if (isMiddlewareCall(options, next)) {
    reportMisuseOnce(middlewareNotCalledError('@raceway/express'));
    (next as Next)();
    return passThrough;
  }
  const lifecycle = createServerLifecycle(options);
  return function racewayExpress(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const request = req as ExpressRequest;
    const span = lifecycle.start({ request, response: res, getRoute: routeOf });
    if (span === undefined) next();
    else span.run(next);
  };
}

/**
 * Express error middleware that records the error on the request's trace (an `error` event,
 * and the error on `response_sent`), then passes it on unchanged to the next error handler.
 * Register it after the routes and before your own error handlers.
 *
 * @example
 * app.use(racewayErrorHandler());
 * app.use((err, req, res, next) => res.status(500).json({ error: 'internal' }));
 */
export function racewayErrorHandler() {
  // Express tells error middleware apart by its four parameters: keep all four.
  return function racewayExpressError(
    error: unknown,
    req: IncomingMessage,
    _res: ServerResponse,
    next: Next,
  ): void {
    serverSpanOf(req)?.recordError(error);
    next(error);
  };
}

/** The matched route template with the mount path of its router, e.g. `/api/users/:id`. */
function routeOf(req: ExpressRequest): string | null {
  const path = req.route?.path;
  if (typeof path !== 'string') return null;
  return (req.baseUrl ?? '') + path;
}
