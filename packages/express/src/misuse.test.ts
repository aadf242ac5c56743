import { once } from 'node:events';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';
import { racewayMiddleware } from './index.js';

// Express is a peer dependency without its types here: the few calls used, typed by hand.
interface ExpressApp {
  use(middleware: unknown): void;
  get(path: string, handler: (req: unknown, res: { json(body: unknown): void }) => void): void;
  listen(port: number, host: string): Server;
}
const express = createRequire(import.meta.url)('express') as () => ExpressApp;

afterEach(() => {
  vi.restoreAllMocks();
});

it('app.use(racewayMiddleware) uncalled: one coded error, requests still answered', async () => {
  const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
  const app = express();
  app.use(racewayMiddleware as never);
  app.get('/ok', (_req, res) => {
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/ok`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-raceway-trace-id')).toBeNull();
    }
  } finally {
    server.close();
  }
  expect(printed).toHaveBeenCalledTimes(1);
  expect(printed.mock.calls[0]?.[0]).toMatch(
    /^\[raceway\] \[RACEWAY_MIDDLEWARE_NOT_CALLED\] racewayMiddleware from @raceway\/express was registered without being called: write app\.use\(racewayMiddleware\(\{ serviceName: '\.\.\.' \}\)\)/,
  );
});
