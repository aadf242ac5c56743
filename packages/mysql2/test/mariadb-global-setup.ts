import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the MySQL or MariaDB server the tests use (root), or null when there is none. */
    mysqlUrl: string | null;
    /** Why there is no server (shown by the skipped suite). */
    mysqlSkipReason: string;
  }
}

/** The first of `names` found in /usr/sbin, /usr/bin or on PATH. */
function findProgram(...names: string[]): string | null {
  for (const name of names) {
    for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
      if (existsSync(join(dir, name))) return join(dir, name);
    }
    try {
      const found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not on PATH
    }
  }
  return null;
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
 * A throwaway MariaDB (or MySQL) server in a temp dir, on a loopback port, root without a
 * password: `mariadb-install-db` then `mariadbd`, stopped and removed after the run.
 */
async function startServer(
  server: string,
  installDb: string,
): Promise<{ url: string; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'raceway-mariadb-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? ['--user=root'] : [];
  execFileSync(
    installDb,
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...user,
    ],
    { stdio: 'pipe' },
  );
  const port = await freePort();
  const log = join(dir, 'error.log');
  const child: ChildProcess = spawn(
    server,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${join(dir, 'mysqld.sock')}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
      `--log-error=${log}`,
      ...user,
    ],
    { stdio: 'ignore' },
  );
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `mysql://root@127.0.0.1:${port}/`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const connection = await mysql.createConnection(url);
      await connection.end();
      return { url, stop };
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        const tail = existsSync(log)
          ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n')
          : '';
        stop();
        throw new Error(`${server} did not start: ${(error as Error).message}\n${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Gives the mysql2 suite a server: RACEWAY_TEST_MYSQL_URL when set, otherwise a throwaway
 * MariaDB (Debian's `mariadb-server`) or MySQL. Without one the suite is skipped with the
 * reason, unless RACEWAY_REQUIRE_MYSQL=1.
 */
export default async function setup(project: TestProject) {
  const required = process.env.RACEWAY_REQUIRE_MYSQL === '1';
  const skip = (reason: string) => {
    if (required) throw new Error(`RACEWAY_REQUIRE_MYSQL=1 but ${reason}`);
    project.provide('mysqlUrl', null);
    project.provide('mysqlSkipReason', reason);
  };
  if (process.env.RACEWAY_TEST_MYSQL_URL) {
    project.provide('mysqlUrl', process.env.RACEWAY_TEST_MYSQL_URL);
    project.provide('mysqlSkipReason', '');
    return;
  }
  const server = findProgram('mariadbd', 'mysqld');
  const installDb = findProgram('mariadb-install-db', 'mysql_install_db');
  if (server === null || installDb === null) {
    skip(
      'no MariaDB or MySQL found (no mariadbd/mysqld and mariadb-install-db on PATH or in /usr/sbin: install mariadb-server, or set RACEWAY_TEST_MYSQL_URL)',
    );
    return;
  }
  let started: { url: string; stop(): void };
  try {
    started = await startServer(server, installDb);
  } catch (error) {
    skip(`could not start ${server}: ${(error as Error).message}`);
    return;
  }
  project.provide('mysqlUrl', started.url);
  project.provide('mysqlSkipReason', '');
  return () => started.stop();
}
