import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isServicePath, parseRequestTarget } from './api/request-target.js';

// The web UI's static files (built by `vite build` into dist/ui) served at `/`. Every GET the
// API does not answer and that names no file falls back to index.html, so a deep link such as
// /traces/<id>?event=... opens the right view. Nothing here touches stored data: the files are
// served without an API key; the UI sends the key on its own /api calls.

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

// The UI loads nothing from the network: the browser is told so too.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the built UI is: beside the bundle (dist/ui), or dist/ui seen from src/ in tests. */
function defaultUiDir(): string | null {
  const candidates = [new URL('./ui/', import.meta.url), new URL('../dist/ui/', import.meta.url)];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return null;
}

interface StaticFile {
  body: Buffer;
  type: string;
}

/**
 * Serves the web UI's files from `dir` (default: the package's built dist/ui, looked up on
 * each request, so a collector started while the UI was being rebuilt serves it once built).
 */
export function webUi(dir?: string | null) {
  async function load(relative: string): Promise<StaticFile | null> {
    const root = dir === undefined ? defaultUiDir() : dir;
    if (root === null) return null;
    // Read on every request, no cache: after a rebuild (new asset names) the new files are
    // served at once, and they are small.
    try {
      const body = await readFile(join(root, relative));
      return { body, type: CONTENT_TYPES[extname(relative)] ?? 'application/octet-stream' };
    } catch {
      // Not a file of the UI: the caller falls back to index.html or a 404.
      return null;
    }
  }

  /**
   * Answers the request with a file of the UI, or index.html for a deep link. Resolves false
   * when the request is not the UI's (an API path, another method, a missing asset).
   */
  async function serve(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    let path: string;
    try {
      path = decodeURIComponent((request.url.split('?')[0] ?? '/').split('#')[0] ?? '/');
    } catch {
      return false;
    }
    // A target that means the API in any reading is the API's: a miss there is a JSON 404,
    // never the UI's page.
    const target = parseRequestTarget(request.url);
    if (target === null || isServicePath(target.path) || path.includes('\0')) return false;
    // normalize() resolves `..` against the root, so no path leaves the UI's folder.
    const relative = posix.normalize(`/${path}`).slice(1);
    const asset = relative === '' ? null : await load(relative);
    // A deep link names no file and has no extension; a missing script or image is a 404.
    const file =
      asset ?? (relative === '' || extname(relative) === '' ? await load('index.html') : null);
    if (file === null) {
      if (relative !== '') return false;
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The web UI is not built: run `pnpm build` in packages/collector.\n');
      return true;
    }
    const immutable = asset !== null && relative.startsWith('assets/');
    reply
      .code(200)
      .type(file.type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .send(file.body);
    return true;
  }

  return { serve };
}
