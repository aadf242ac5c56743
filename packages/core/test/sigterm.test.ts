// SIGTERM right after a request loses none of its events when the process stops as the README
// shows (`process.on('SIGTERM', async () => { await shutdown(); process.exit(0); })`): a real
// process, a flush interval of a minute (only the shutdown can send the events), a collector
// stand-in on loopback.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type TestCollector } from './helpers/collector.js';

// The package as users run it: its build (`pnpm test` builds before the tests run).
const source = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const SERVICE = `
import http from 'node:http';
import { Tracer, runInContext, shutdown, trackStateWrite } from ${JSON.stringify(source)};
const tracer = new Tracer({ serviceName: 'stopping', serverUrl: process.env.COLLECTOR, flushIntervalMs: 60_000 });
const server = http.createServer((req, res) => {
  const ctx = tracer.startContext({});
  runInContext(ctx, () => trackStateWrite('stock:1', 9));
  res.setHeader('x-raceway-trace-id', ctx.traceId);
  res.end('ok');
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', async () => {
  server.close();
  await shutdown();
  process.exit(0);
});
`;

let collector: TestCollector | undefined;
afterEach(async () => {
  await collector?.close();
});

describe('SIGTERM with the README pattern', () => {
  it("sends the last request's events before the process exits", async () => {
    collector = await startCollector();
    const child = spawn(process.execPath, ['--input-type=module', '-e', SERVICE], {
      env: { ...process.env, COLLECTOR: collector.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { port } = JSON.parse(line) as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/reserve`);
    const traceId = response.headers.get('x-raceway-trace-id');
    await response.text();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    const kinds = [...collector.stored.values()]
      .filter((e) => e.trace_id === traceId)
      .map((e) => e.kind);
    expect(kinds).toEqual(['state_write']);
  }, 60_000);
});
