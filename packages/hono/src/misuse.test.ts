import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { RacewayConfigError } from '@raceway/core';
import { Hono } from 'hono';
import { afterEach, expect, it, vi } from 'vitest';
import { racewayMiddleware } from './index.js';

afterEach(() => {
  vi.restoreAllMocks();
});

it('refuses bad options when the middleware is made', () => {
  expect(() => racewayMiddleware({ serviceName: '' })).toThrow(RacewayConfigError);
});

it('app.use(racewayMiddleware) uncalled: one coded error, requests still answered', async () => {
  const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
  const app = new Hono();
  app.use(racewayMiddleware as never);
  app.get('/', (c) => c.json({ ok: true }));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(printed).toHaveBeenCalledTimes(1);
  expect(printed.mock.calls[0]?.[0]).toMatch(
    /^\[raceway\] \[RACEWAY_MIDDLEWARE_NOT_CALLED\] racewayMiddleware from @raceway\/hono was registered without being called/,
  );
});

it('outside @hono/node-server (app.request): answered untraced, said once', async () => {
  const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
  const app = new Hono();
  app.use(racewayMiddleware({ serviceName: 'hono-misuse', serverUrl: 'http://127.0.0.1:9' }));
  app.get('/', (c) => c.json({ ok: true }));
  for (let i = 0; i < 2; i++) {
    const response = await app.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-raceway-trace-id')).toBeNull();
  }
  expect(printed).toHaveBeenCalledTimes(1);
  expect(printed.mock.calls[0]?.[0]).toMatch(/@hono\/node-server/);
});
