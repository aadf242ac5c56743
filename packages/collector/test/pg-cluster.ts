import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** initdb and pg_ctl from the newest /usr/lib/postgresql/<version>/bin, else from PATH. */
export function findPgBin(): string | null {
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

// initdb refuses to run as root: as root, the cluster's files and processes belong to the
// `postgres` user.
const asRoot = process.getuid?.() === 0;

/** A temp directory the cluster's user can write to. */
function clusterDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'raceway-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  return dir;
}

/**
 * A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir) on a loopback port, with
 * fsync off: it lives for one test run; durability is PostgreSQL's, not ours.
 */
export class PgCluster {
  private constructor(
    private readonly bin: string,
    /** Holds the data directory, the log and the Unix socket. */
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb (trust authentication, superuser `postgres`) and start, on `port` or a free one. */
  static async create(bin: string, port?: number): Promise<PgCluster> {
    const cluster = new PgCluster(bin, clusterDir(), port ?? (await freePort()));
    try {
      cluster.run('initdb', [
        '-D',
        cluster.data,
        '-A',
        'trust',
        '-U',
        'postgres',
        '-E',
        'UTF8',
        '--no-sync',
      ]);
      cluster.start();
    } catch (error) {
      cluster.remove();
      throw error;
    }
    return cluster;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  /** The superuser's URL (database `postgres`). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts the server and waits until it accepts connections. */
  start(): void {
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`,
      'start',
    ]);
  }

  /** Stops the server; `immediate` kills it as a crash would (no checkpoint, connections cut). */
  stop(mode: 'fast' | 'immediate' = 'immediate'): void {
    this.run('pg_ctl', ['-D', this.data, '-m', mode, '-w', 'stop']);
  }

  /**
   * A copy of this (stopped) cluster's data in a new directory, not started, that will listen
   * on `port`: a standby with every committed transaction, as a failover would promote.
   */
  copy(port = this.port): PgCluster {
    const copy = new PgCluster(this.bin, clusterDir(), port);
    // -a keeps the owner (postgres) and the 0700 mode PostgreSQL insists on.
    execFileSync('cp', ['-a', this.data, copy.data]);
    return copy;
  }

  /** Deletes the directory (stop the server first). */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(tool: string, args: string[]): void {
    const [cmd, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(this.bin, tool), ...args]]
      : [join(this.bin, tool), args];
    const result = spawnSync(cmd, argv, { encoding: 'utf8', cwd: this.dir });
    if (result.status !== 0) {
      throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
  }
}
