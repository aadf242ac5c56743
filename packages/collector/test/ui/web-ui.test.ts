import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webUi } from '../../src/web-ui.js';

// The static-file side of the web UI, on a folder laid out as `vite build` writes it.

let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raceway-ui-files-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>ui</title>');
  writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'index-abc.css'), 'body{}');
  writeFileSync(join(dir, '..', 'secret.txt'), 'not the UI');
  const ui = webUi(dir);
  app = Fastify();
  app.setNotFoundHandler(async (request, reply) => {
    if (await ui.serve(request, reply)) return reply;
    return reply.code(404).send({ error: 'not_found' });
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(dir, '..', 'secret.txt'), { force: true });
});

describe('webUi', () => {
  it('serves index.html at / and for every deep link, never cached', async () => {
    for (const url of ['/', '/traces', '/traces/0af7651916cd43dd8448eb211c80319c?events=a,b']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.body).toContain('<title>ui</title>');
    }
  });

  it('serves hashed assets with their content type, cached for good', async () => {
    const js = await app.inject({ url: '/assets/index-abc.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    const css = await app.inject({ url: '/assets/index-abc.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('leaves API paths, missing assets, other methods and paths outside its folder to the 404', async () => {
    for (const [method, url] of [
      ['GET', '/api/nothing'],
      ['GET', '/v1/nothing'],
      ['GET', '/assets/missing.js'],
      ['POST', '/traces'],
      ['GET', '/../secret.txt'],
      ['GET', '/%2e%2e/secret.txt'],
    ] as const) {
      const response = await app.inject({ method, url });
      expect(response.body, `${method} ${url}`).not.toContain('not the UI');
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json()).toEqual({ error: 'not_found' });
    }
  });

  it('says how to build the UI when it is not built', async () => {
    const ui = webUi(null);
    const bare = Fastify();
    bare.setNotFoundHandler(async (request, reply) => {
      if (await ui.serve(request, reply)) return reply;
      return reply.code(404).send({ error: 'not_found' });
    });
    const response = await bare.inject({ url: '/' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('pnpm build');
    await bare.close();
  });
});
