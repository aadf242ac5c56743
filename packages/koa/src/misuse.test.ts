import { once } from 'node:events';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';
import { racewayMiddleware } from './index.js';

// Koa is a peer dependency without its types here: the few calls used, typed by hand.
interface KoaApp {
  use(middleware: unknown): void;
  listen(port: number, host: string): Server;
}
const Koa = createRequire(import.meta.url)('koa') as new () => KoaApp;

afterEach(() => {
  vi.restoreAllMocks();
});

it('app.use(racewayMiddleware) uncalled: one coded error, requests still answered', async () => {
  const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
  const app = new Koa();
  app.use(racewayMiddleware as never);
  app.use((ctx: { body: unknown }) => {
    ctx.body = { ok: true };
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
    }
  } finally {
    server.close();
  }
  expect(printed).toHaveBeenCalledTimes(1);
  expect(printed.mock.calls[0]?.[0]).toMatch(
    /^\[raceway\] \[RACEWAY_MIDDLEWARE_NOT_CALLED\] racewayMiddleware from @raceway\/koa was registered without being called/,
  );
});
