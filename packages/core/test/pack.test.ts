import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from './helpers/collector.js';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

// The package is built into a temp copy (never into packages/core/dist, which other packages'
// tests may be reading at the same time), packed there, and installed into a scratch project
// the way a user installs it.
let root: string;
let app: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'raceway-core-pack-'));
  const staged = join(root, 'package');
  app = join(root, 'app');
  await mkdir(staged);
  await mkdir(app);
  await run('pnpm', ['exec', 'tsup', '--out-dir', join(staged, 'dist')], { cwd: packageDir });
  // The staged copy is already built: its manifest goes without the prepack build, which needs
  // the sources.
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'));
  delete manifest.scripts.prepack;
  await writeFile(join(staged, 'package.json'), JSON.stringify(manifest));
  await run('pnpm', ['pack', '--pack-destination', root], { cwd: staged });
  const tarball = (await readdir(root)).find((name) => name.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  // @raceway/core has no runtime dependencies, so the tarball installs without a registry.
  await run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', join(root, tarball as string)],
    {
      cwd: app,
    },
  );
}, 180_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const USE_THE_API = `
  const clock = new VectorClock({ 'web#00000002': 1, 'api#00000001': 3 });
  const tracer = new Tracer({ serviceName: 'scratch' }, { env: {} });
  const ctx = tracer.startContext({});
  const headers = runInContext(ctx, () => getTraceHeaders());
  const extracted = extractContext(headersFromRecord(headers));
  const out = {
    encoded: encodeClock(clock),
    decoded: decodeClock('{"a#1":2}').ok,
    traceId: newTraceId().length,
    headerNames: Object.keys(headers).sort(),
    joined: extracted.traceId === ctx.traceId,
    types: [fork, trackStateRead, trackStateWrite, withLock, mergeResponseHeaders, Transport, RacewayConfigError].map((f) => typeof f),
    // Both entry points share one copy of the module state (one AsyncLocalStorage).
    oneModuleState: integrationRunInContext === runInContext,
  };
  console.log(JSON.stringify(out));
`;
// What an application imports, and what integrations import from the documented subpath.
const PUBLIC_NAMES =
  'Tracer, runInContext, getTraceHeaders, fork, trackStateRead, trackStateWrite, withLock, mergeResponseHeaders, RacewayConfigError';
const INTEGRATION_NAMES =
  'VectorClock, extractContext, headersFromRecord, encodeClock, decodeClock, newTraceId, Transport, runInContext as integrationRunInContext';
const INTEGRATION_NAMES_CJS = INTEGRATION_NAMES.replace(' as ', ': ');

function expectWorking(stdout: string): void {
  expect(JSON.parse(stdout)).toEqual({
    encoded: '{"api#00000001":3,"web#00000002":1}',
    decoded: true,
    traceId: 32,
    headerNames: ['X-Raceway-Trace-Id', 'X-Raceway-VC', 'traceparent'],
    joined: true,
    types: ['function', 'function', 'function', 'function', 'function', 'function', 'function'],
    oneModuleState: true,
  });
}

describe('the packed @raceway/core', () => {
  it('imports as ESM', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { ${PUBLIC_NAMES} } from '@raceway/core';\nimport { ${INTEGRATION_NAMES} } from '@raceway/core/integration';\n${USE_THE_API}`,
      ],
      { cwd: app },
    );
    expectWorking(stdout);
  });

  it('requires as CJS', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        `const { ${PUBLIC_NAMES} } = require('@raceway/core');\nconst { ${INTEGRATION_NAMES_CJS} } = require('@raceway/core/integration');\n${USE_THE_API}`,
      ],
      { cwd: app },
    );
    expectWorking(stdout);
  });

  it('flushes on a natural exit, and its timers do not keep the process alive', async () => {
    const collector = await startCollector();
    try {
      // No shutdown() call and a one-minute flush interval: the events can only arrive through
      // the beforeExit hook, and the process can only exit promptly if the timer is unref'd.
      const script = `
        import { Tracer, runInContext, trackStateWrite } from '@raceway/core';
        const tracer = Tracer.fromOptions({ serviceName: 'exiting', flushIntervalMs: 60000 });
        runInContext(tracer.startContext({}), () => {
          for (let i = 0; i < 5; i++) trackStateWrite('rows/' + i, { value: i });
        });
      `;
      const child = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: app,
        env: { ...process.env, RACEWAY_URL: collector.url },
        timeout: 30_000,
      });
      expect(child.stderr).toBe('');
      expect(collector.stored.size).toBe(5);
      expect([...collector.stored.values()].every((event) => event.service === 'exiting')).toBe(
        true,
      );
    } finally {
      await collector.close();
    }
  });
});
