import { RacewayConfigError, type RacewayOptions } from '@raceway/core';
import {
  createServerLifecycle,
  type ServerLifecycle,
  type ServerSpan,
} from '@raceway/core/integration';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export type { RacewayOptions } from '@raceway/core';

const SPAN = Symbol('raceway.span');

type TracedRequest = FastifyRequest & { [SPAN]?: ServerSpan | null };

/** Options of `app.register` itself, which Fastify hands to the plugin along with its own. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

function racewayOptionsOf(options: RacewayOptions): RacewayOptions {
  if (options === null || typeof options !== 'object') return options;
  const own: Record<string, unknown> = { ...options };
  for (const name of REGISTER_OPTIONS) delete own[name];
  return own as RacewayOptions;
}

const plugin: FastifyPluginCallback<RacewayOptions> = (fastify, options, done) => {
  if (typeof done !== 'function') {
    // `racewayPlugin({ serviceName })`: called like a factory instead of registered.
    throw new RacewayConfigError(
      'RACEWAY_INVALID_ARGUMENTS',
      "racewayPlugin is registered, not called: write await app.register(racewayPlugin, { serviceName: '...' })",
    );
  }
  let lifecycle: ServerLifecycle;
  try {
    lifecycle = createServerLifecycle(racewayOptionsOf(options));
  } catch (error) {
    // Handed to Fastify, so that `await app.register(...)` rejects with the coded error.
    done(error as Error);
    return;
  }
  fastify.decorateRequest(SPAN, null);

  fastify.addHook('onRequest', (request, reply, next) => {
    const span = lifecycle.start({
      request: request.raw,
      response: reply.raw,
      route: request.routeOptions?.url,
    });
    if (span === undefined) return next();
    (request as TracedRequest)[SPAN] = span;
    // Fastify runs the body parser in an AsyncResource bound to this point, so the context
    // reaches validation, the handler and the later hooks without further help.
    span.run(() => next());
  });
  fastify.addHook('onError', (request, _reply, error, next) => {
    (request as TracedRequest)[SPAN]?.recordError(error);
    next();
  });
  fastify.addHook('onResponse', (request, _reply, next) => {
    (request as TracedRequest)[SPAN]?.end();
    next();
  });
  done();
};

/**
 * Fastify plugin (Fastify 4 and 5) that traces every request: joins the caller's trace (or
 * starts one), runs hooks and handlers in its execution context, records `request_received`
 * and `response_sent` (with the route template, e.g. `/users/:id`) and errors, and returns
 * `X-Raceway-Trace-Id` and `X-Raceway-VC` on the response. It applies to the whole instance
 * (fastify-plugin), so register it before the routes. Throws a `RacewayConfigError` for
 * invalid options when registered.
 *
 * @example
 * import Fastify from 'fastify';
 * import { racewayPlugin } from '@raceway/fastify';
 *
 * const app = Fastify();
 * await app.register(racewayPlugin, { serviceName: 'api-service', serverUrl: 'http://localhost:8080' });
 * app.get('/users/:id', handler);
 */
export const racewayPlugin = fp(plugin, { fastify: '4.x || 5.x', name: '@raceway/fastify' });
