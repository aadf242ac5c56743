import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import { checkApiKey } from '../ingest/api-key.js';

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

const isApiPath = (url: string) =>
  url === '/api' || url.startsWith('/api/') || url.startsWith('/api?');

/**
 * Who may talk to the collector, checked before any route runs:
 * - the read side (`/api/*`) needs a read key when keys are configured (ingestion checks its
 *   own keys in its route);
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
    const hostHeader = request.headers.host;
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
    if (isApiPath(request.url)) checkApiKey(readKeys, request.headers.authorization);
  });
}
