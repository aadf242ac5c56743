import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Collector, startCollector } from '@raceway/collector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startProcess,
  stopProcess,
  waitForPort,
} from '../../../tooling/test-processes.js';

// The README's "Add Raceway to your services" section quotes these two files whole; this test
// holds the quote to the files and runs them as written: real processes, real HTTP, the real
// transport, and a real collector.

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const readme = readFileSync(here('../../../README.md'), 'utf8');
const sources = {
  web: readFileSync(here('../src/web.mjs'), 'utf8'),
  api: readFileSync(here('../src/api.cjs'), 'utf8'),
};

interface Edge {
  from: string;
  to: string;
  calls: number;
  errors: number;
}

/** A quickstart file run by node, as the README runs it. */
const node = (file: string) => ({ command: process.execPath, args: [here(`../src/${file}`)] });

let collector: Collector;
let web: ChildProcess;
let api: ChildProcess;
let webPort: number;

beforeAll(async () => {
  collector = await startCollector({ port: 0, storage: 'sqlite::memory:' });
  const apiPort = await freePort();
  webPort = await freePort();
  api = startProcess(node('api.cjs'), { PORT: String(apiPort), RACEWAY_URL: collector.url });
  web = startProcess(node('web.mjs'), {
    PORT: String(webPort),
    API_URL: `http://127.0.0.1:${apiPort}`,
    RACEWAY_URL: collector.url,
  });
  await Promise.all([waitForPort(apiPort), waitForPort(webPort)]);
});

afterAll(async () => {
  for (const child of [web, api]) if (child) await stopProcess(child);
  await collector?.close();
});

describe('the README quick start for your own services', () => {
  it('quotes the example files whole', () => {
    expect(readme).toContain(`\`\`\`js\n${sources.web}\`\`\``);
    expect(readme).toContain(`\`\`\`js\n${sources.api}\`\`\``);
  });

  it('runs as written: one ESM and one CommonJS service in one trace, flushed on SIGTERM', async () => {
    for (const expectedLeft of [99, 98]) {
      const response = await fetch(`http://127.0.0.1:${webPort}/buy/mug`, { method: 'POST' });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ sku: 'mug', left: expectedLeft });
      expect(response.headers.get('x-raceway-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    }
    // SIGTERM: each service's handler calls shutdown(), which sends what is queued.
    expect(await stopProcess(web)).toBe(0);
    expect(await stopProcess(api)).toBe(0);
    await collector.analyzeNow();

    const dependencies = (await (await fetch(`${collector.url}/api/dependencies`)).json()) as {
      edges: Edge[];
    };
    expect(
      dependencies.edges.map(({ from, to, calls, errors }) => ({ from, to, calls, errors })),
    ).toEqual([{ from: 'web', to: 'api', calls: 2, errors: 0 }]);

    // The read-modify-write runs under the lock both requests take: no race is reported.
    const races = (await (await fetch(`${collector.url}/api/races`)).json()) as {
      races: unknown[];
    };
    expect(races.races).toEqual([]);
  });
});
