import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './cli-process.js';
import { makeTrace, postBatch } from './fixtures.js';

const cwd = mkdtempSync(join(tmpdir(), 'raceway-cli-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('raceway serve', () => {
  it('prints where it listens and where data is kept, and stops cleanly on SIGTERM', async () => {
    const cli = await startCli(['serve', '--port', '0', '--retention', '12h'], { cwd });
    expect(cli.line).toMatch(
      new RegExp(
        `^raceway collector \\d+\\.\\d+\\.\\d+\\S* listening on http://127\\.0\\.0\\.1:\\d+ \\| data: SQLite ${join(cwd, 'raceway.db').replaceAll('.', '\\.')} \\| retention: 12h$`,
      ),
    );
    const events = makeTrace();
    expect((await postBatch(cli.url, { events })).status).toBe(200);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toMatch(/SIGTERM received.*\n.*stopped/);
  });

  it('reads its options from the environment', async () => {
    const cli = await startCli(['serve'], {
      cwd,
      env: {
        RACEWAY_PORT: '0',
        RACEWAY_HOST: '127.0.0.1',
        RACEWAY_STORAGE: 'sqlite:data/env.db',
        RACEWAY_API_KEYS: 'alpha, beta',
        RACEWAY_RETENTION: '3d',
      },
    });
    try {
      expect(cli.line).toContain(`data: SQLite ${join(cwd, 'data', 'env.db')}`);
      expect(cli.line).toContain('retention: 3d');
      expect(cli.line).toContain('API keys: 2');
      const events = makeTrace();
      expect((await postBatch(cli.url, { events })).status).toBe(401);
      expect(
        (await postBatch(cli.url, { events }, { headers: { authorization: 'Bearer beta' } }))
          .status,
      ).toBe(200);
    } finally {
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
    }
  });

  it('lets flags win over the environment, with repeatable --api-key', async () => {
    const cli = await startCli(
      [
        'serve',
        '--port',
        '0',
        '--api-key',
        'one',
        '--api-key',
        'two',
        '--storage',
        'sqlite:flag.db',
      ],
      {
        cwd,
        env: { RACEWAY_API_KEYS: 'env-key', RACEWAY_STORAGE: 'sqlite:env.db' },
      },
    );
    try {
      expect(cli.line).toContain(`data: SQLite ${join(cwd, 'flag.db')}`);
      expect(
        (
          await postBatch(
            cli.url,
            { events: makeTrace() },
            { headers: { authorization: 'Bearer two' } },
          )
        ).status,
      ).toBe(200);
      expect(
        (
          await postBatch(
            cli.url,
            { events: makeTrace() },
            { headers: { authorization: 'Bearer env-key' } },
          )
        ).status,
      ).toBe(401);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });

  it.each([
    [['serve', '--retention', '7days'], /retention "7days" is not a duration/],
    [['serve', '--storage', 'mysql://x'], /storage "mysql:\/\/x" is not supported/],
    [['serve', '--port', '99999'], /port "99999" is not a TCP port/],
    [
      ['serve', '--otlp-export', 'tempo:4318'],
      /OTLP export endpoint "tempo:4318" is not an http\(s\) URL/,
    ],
    [['serve', '--colour'], /Unknown option '--colour'/],
    [['launch'], /unknown command "launch"/],
  ])('rejects bad configuration %j with exit code 2 and a clear message', async (args, message) => {
    const result = await runCli(args, { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('prints help', async () => {
    const result = await runCli(['--help'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: raceway serve/);
    expect(result.stdout).toMatch(/RACEWAY_STORAGE/);
  });
});
