import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the PostgreSQL used by the tests, or null when there is none. */
    pgUrl: string | null;
    /** Why there is no PostgreSQL (shown by the skipped suite). */
    pgSkipReason: string;
  }
}

/** initdb and pg_ctl from the newest /usr/lib/postgresql/<version>/bin, else from PATH. */
function findPgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter(
        (v) =>
          existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')),
      )
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb && command -v pg_ctl'], {
    encoding: 'utf8',
  });
  const [initdb] = which.stdout.trim().split('\n');
  return which.status === 0 && initdb ? join(initdb, '..') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Gives the PostgreSQL storage suite a server: RACEWAY_TEST_PG_URL when set, otherwise a
 * throwaway cluster (initdb + pg_ctl in a temp dir, on a free loopback port) stopped after the
 * run. initdb refuses to run as root, so as root the cluster runs as the `postgres` user.
 * Without any PostgreSQL the suite is skipped with the reason, unless RACEWAY_REQUIRE_PG=1.
 */
export default async function setup(project: TestProject) {
  if (process.env.RACEWAY_TEST_PG_URL) {
    project.provide('pgUrl', process.env.RACEWAY_TEST_PG_URL);
    project.provide('pgSkipReason', '');
    return;
  }
  const bin = findPgBin();
  if (!bin) {
    const reason =
      'no PostgreSQL found (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH, and RACEWAY_TEST_PG_URL is not set)';
    if (process.env.RACEWAY_REQUIRE_PG === '1')
      throw new Error(`RACEWAY_REQUIRE_PG=1 but ${reason}`);
    project.provide('pgUrl', null);
    project.provide('pgSkipReason', reason);
    return;
  }

  const dir = mkdtempSync(join(tmpdir(), 'raceway-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args];
    const result = spawnSync(cmd, argv, { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) {
      throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
  };

  const port = await freePort();
  try {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    // fsync off: this cluster lives for one test run; durability is PostgreSQL's, not ours.
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`,
      'start',
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    if (process.env.RACEWAY_REQUIRE_PG === '1') throw error;
    project.provide('pgUrl', null);
    project.provide(
      'pgSkipReason',
      `could not start a PostgreSQL cluster: ${(error as Error).message}`,
    );
    return;
  }
  project.provide('pgUrl', `postgres://postgres@127.0.0.1:${port}/postgres`);
  project.provide('pgSkipReason', '');

  return () => {
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
