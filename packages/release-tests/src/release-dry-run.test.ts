// The release dry run. Every artifact is built as a release would publish it (the npm
// tarballs, the Python wheel and sdist, the crate of `cargo package`, the Go module at its tag),
// installed into a fresh project outside the repository by the command its README gives, and
// traced: two services of that language, one request, SIGTERM, and the collector (itself
// installed from its tarball) shows one trace across both.
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  freePort,
  startProcess,
  stopProcess,
  waitForPort,
} from '../../../tooling/test-processes.js';
import {
  buildPython,
  installGoFromTag,
  installGoWithReplace,
  installNpm,
  installPython,
  installRust,
  packageCrate,
  packNpm,
} from './artifacts.js';
import { repo } from './commands.js';
import { expectOneTraceAcross } from './two-services.js';

const work = mkdtempSync(join(tmpdir(), 'raceway-release-'));
const app = join(work, 'node-app');
let collector: ChildProcess;
let collectorUrl: string;

beforeAll(async () => {
  const tarballs = await packNpm(join(work, 'npm'));
  // The README's install: the SDK, its Express and fetch integrations, the collector.
  await installNpm(app, tarballs, [
    '@raceway/core',
    '@raceway/express',
    '@raceway/fetch',
    '@raceway/collector',
    'express',
    'async-mutex',
  ]);
  const port = await freePort();
  collector = startProcess({
    command: join(app, 'node_modules/.bin/raceway'),
    args: ['serve', '--port', String(port), '--storage', `sqlite:${join(work, 'raceway.db')}`],
  });
  await waitForPort(port, collector);
  collectorUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  if (collector) await stopProcess(collector);
  rmSync(work, { recursive: true, force: true });
});

describe('npm tarballs', () => {
  it("run the README's quick start (web.mjs -> api.cjs)", async () => {
    for (const file of ['web.mjs', 'api.cjs']) {
      cpSync(join(repo, 'examples/quickstart/src', file), join(app, file));
    }
    await expectOneTraceAcross(collectorUrl, {
      front: 'web',
      back: 'api',
      launch: (service, downstream) => ({
        command: process.execPath,
        args: [join(app, service === 'web' ? 'web.mjs' : 'api.cjs')],
        cwd: app,
        ...(downstream && { env: { API_URL: downstream } }),
      }),
      request: { method: 'POST', path: '/buy/mug' },
    });
  });
});

describe('Python', () => {
  let built: { wheel: string; sdist: string };
  beforeAll(async () => {
    built = await buildPython(join(work, 'python-dist'));
  });

  it.each([
    ['wheel', () => ['--no-index', built.wheel]],
    ['sdist', () => [built.sdist]],
    ['checkout', () => [join(repo, 'sdks/python')]],
  ])('the %s, installed by pip into a fresh virtualenv', async (form, what) => {
    const launch = await installPython(join(work, `venv-${form}`), what());
    await expectOneTraceAcross(collectorUrl, {
      front: `py-${form}-front`,
      back: `py-${form}-back`,
      launch: () => launch,
      request: { method: 'GET', path: '/hop' },
    });
  });
});

describe('Go', () => {
  it.each([
    ['replace directive to the checkout', () => installGoWithReplace(join(work, 'go-replace'))],
    ['module at its tag sdks/go/v0.1.0', () => installGoFromTag(join(work, 'go-tag'))],
  ])('the %s, in a fresh module', async (form, install) => {
    const launch = await install();
    const name = form.startsWith('replace') ? 'go-replace' : 'go-tag';
    await expectOneTraceAcross(collectorUrl, {
      front: `${name}-front`,
      back: `${name}-back`,
      launch: () => launch,
      request: { method: 'GET', path: '/hop' },
    });
  });
});

describe('Rust', () => {
  it.each([
    ['path dependency on the checkout', 'rust-path', () => join(repo, 'sdks/rust')],
    ['crate of cargo package', 'rust-crate', () => packageCrate(join(work, 'crate'))],
  ])('the %s, in a fresh project', async (_form, name, crate) => {
    const launch = await installRust(join(work, name), await crate());
    await expectOneTraceAcross(collectorUrl, {
      front: `${name}-front`,
      back: `${name}-back`,
      launch: () => launch,
      request: { method: 'GET', path: '/hop' },
    });
  });
});
