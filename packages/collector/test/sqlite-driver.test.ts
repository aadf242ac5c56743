import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli, startCli } from './cli-process.js';
import { createTestDatabase, getJson, makeTrace, postBatch } from './fixtures.js';

// better-sqlite3 is a native module that a PostgreSQL-only install may not have built: the
// collector must start without it and load it only for SQLite storage. The `raceway` bin runs
// with a preload that makes the driver impossible to find, as where it is missing.

const HIDE_DRIVER = `--import ${join(__dirname, 'fixtures', 'no-sqlite-driver', 'hide.mjs')}`;
const dir = mkdtempSync(join(tmpdir(), 'raceway-no-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

describe('without the SQLite driver', () => {
  it.skipIf(!adminUrl)(
    `serves and stores on PostgreSQL${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
    async () => {
      const url = await createTestDatabase(adminUrl!);
      const cli = await startCli(['serve', '--port', '0', '--storage', url], {
        cwd: dir,
        env: { NODE_OPTIONS: HIDE_DRIVER },
      });
      try {
        const events = makeTrace();
        expect((await postBatch(cli.url, { events })).status).toBe(200);
        const health = await getJson(`${cli.url}/healthz`);
        expect(health.status).toBe(200);
        expect(health.json.counts.events).toBe(events.length);
      } finally {
        cli.child.kill('SIGTERM');
        await cli.exited;
      }
      expect(cli.stderr()).not.toMatch(/better-sqlite3/);
    },
  );

  it('refuses SQLite storage with what to install, or to use PostgreSQL', async () => {
    const result = await runCli(
      ['serve', '--port', '0', '--storage', `sqlite:${join(dir, 'raceway.db')}`],
      { cwd: dir, env: { NODE_OPTIONS: HIDE_DRIVER } },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^raceway: SQLite storage needs the better-sqlite3 driver, which is not installed or not built .*install it \(npm install better-sqlite3.*or use PostgreSQL storage \(--storage postgres:\/\/\.\.\.\)\n$/,
    );
    expect(result.stdout).toBe('');
  });
});
