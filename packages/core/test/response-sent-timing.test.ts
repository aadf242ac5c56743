// `response_sent` is stamped when the response head is written: the caller can read the answer
// from then on, so a later stamp (when the response finishes) would put the server's end after
// the caller's `response_received` on one clock, a false clock skew.
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { nowMicros } from '../src/events.js';
import { createServerLifecycle } from '../src/http/server-lifecycle.js';
import { recordingTracer } from './helpers/recording-tracer.js';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

it('stamps response_sent when the head goes out, not when a slow body finishes', async () => {
  const { tracer, events } = recordingTracer('api');
  const lifecycle = createServerLifecycle(tracer);
  const server = createServer((req, res) => {
    const span = lifecycle.start({ request: req, response: res });
    span?.run(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('head');
      // The body takes 60 ms more: the caller already has the status and headers.
      setTimeout(() => res.end('tail'), 60);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  const { port } = server.address() as AddressInfo;

  const { headersAtUs, endAtUs } = await new Promise<{ headersAtUs: number; endAtUs: number }>(
    (resolve, reject) => {
      request({ port, host: '127.0.0.1', path: '/slow', agent: false }, (res) => {
        const headersAtUs = nowMicros();
        res.resume();
        res.on('end', () => resolve({ headersAtUs, endAtUs: nowMicros() }));
      })
        .on('error', reject)
        .end();
    },
  );
  while (!events.some((e) => e.kind === 'response_sent'))
    await new Promise((r) => setTimeout(r, 5));

  const sent = events.find((e) => e.kind === 'response_sent');
  if (sent === undefined) throw new Error('no response_sent');
  expect(sent.ts_us).toBeLessThanOrEqual(headersAtUs);
  expect(endAtUs - sent.ts_us).toBeGreaterThanOrEqual(50_000);
  // The duration still covers the whole response.
  expect((sent.data as { duration_ms: number }).duration_ms).toBeGreaterThanOrEqual(50);
});
