import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import { checkApiKey } from '../ingest/api-key.js';
import { isApiPath, parseRequestTarget } from './request-target.js';

/**
 * Who may call a route: `public` (health), `ingest` (the ingest route checks its own keys),
 * or, for every route that declares nothing, `read` (a read key when keys are configured).
 */
export type RouteAccess = 'public' | 'ingest' | 'read';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; undeclared means `read` (deny by default). */
    access?: RouteAccess;
  }
}

export interface AccessOptions {
  /** Ingest keys (`--api-key`): they also grant reads when no read key is set. */
  ingestKeys: string[];
  /** Read keys (`--read-key`): when set, every /api route needs one of them. */
  readKeys: string[];
  /** The address the collector listens on: Host is checked when it is a loopback address. */
  host: string;
  /** More Host names accepted on a loopback collector (a reverse proxy's name, say). */
  allowedHosts: string[];
  /** Origins allowed to read answers from a browser (CORS); none by default. */
  corsOrigins: string[];
}

/** Whether the collector listens on this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The host name of a Host header (`example.com:8080` -> `example.com`, `[::1]:80` -> `::1`). */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') >>> 0);
  const colon = h.indexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

/**
 * Whether a request needs a read key. Decided on the route that will run (its declared
 * access; undeclared is `read`), and, whatever the route, on every reading of the target: a
 * target that names the API once decoded, normalised or stripped of its authority needs the
 * key even when the router finds no route for it (it could be a proxy's reading, or a
 * fallback's). Only unmatched targets outside the API (the web UI's files) are public.
 */
function needsReadKey(request: FastifyRequest, canonicalPath: string): boolean {
  if (isApiPath(canonicalPath)) return true;
  if (request.is404) return false;
  return (request.routeOptions.config.access ?? 'read') === 'read';
}

/**
 * Who may talk to the collector, checked before any route runs:
 * - every route needs a read key when keys are configured, unless it declares `access`
 *   (`public`, or `ingest`: the ingest route checks its own keys), and so does every target that
 *   means `/api` in any encoding or form (see needsReadKey);
 * - on a loopback address, a Host header naming another host is refused (421): a web page whose
 *   domain resolves to 127.0.0.1 (DNS rebinding) cannot reach the collector;
 * - CORS headers only for the configured origins (none by default).
 *
 * See README.md, "Access control", for how the web UI sends its key.
 */
export function accessControl(app: FastifyInstance, options: AccessOptions): void {
  const readKeys = options.readKeys.length > 0 ? options.readKeys : options.ingestKeys;
  const checkHost = isLoopback(options.host);
  const allowed = new Set(
    [options.host, ...options.allowedHosts].map((h) => h.replace(/^\[|\]$/g, '').toLowerCase()),
  );
  const origins = new Set(options.corsOrigins);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const target = parseRequestTarget(request.url);
    if (target === null) {
      throw new HttpError(
        400,
        'bad_request',
        'the request target must be a path ("/api/traces") or an absolute URL',
      );
    }
    // In absolute-form (`GET http://host/path`) the target's authority is the host asked for.
    const hostHeader = target.authority ?? request.headers.host;
    if (checkHost && hostHeader !== undefined) {
      const name = hostName(hostHeader);
      if (!isLoopback(name) && !allowed.has(name)) {
        throw new HttpError(
          421,
          'misdirected_request',
          `this collector listens on ${options.host} and answers requests for localhost only, not for "${name}": use http://localhost or http://127.0.0.1, or start it with --allowed-host ${name}`,
        );
      }
    }
    const origin = request.headers.origin;
    if (origin !== undefined && origins.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('vary', 'Origin');
      if (request.method === 'OPTIONS') {
        reply
          .header('access-control-allow-methods', 'GET, POST, OPTIONS')
          .header('access-control-allow-headers', 'authorization, content-type, content-encoding')
          .header('access-control-max-age', '600');
        return reply.code(204).send();
      }
    }
    if (needsReadKey(request, target.path)) checkApiKey(readKeys, request.headers.authorization);
  });
}
