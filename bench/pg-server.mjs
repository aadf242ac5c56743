// A throwaway PostgreSQL server for the ingestion benchmarks, with durable defaults (fsync,
// synchronous_commit on): RACEWAY_BENCH_PG_URL when set, else initdb + pg_ctl from the newest
// /usr/lib/postgresql/*/bin in a directory of `work`. `cpus` (e.g. "1") pins the server and
// every process it starts to those cores (taskset), to keep it apart from the collectors;
// `settings` are more `-c name=value` options.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

let clusters = 0;

/** Starts a server; resolves to `{ url, dir, postmasterPid(), stop() }`, or null without one. */
export function startPostgres(work, { cpus, settings = [] } = {}) {
  if (process.env.RACEWAY_BENCH_PG_URL) {
    return { url: process.env.RACEWAY_BENCH_PG_URL, postmasterPid: () => null, stop() {} };
  }
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort((a, b) => b - a)[0] : undefined;
  if (!version) return null;
  const bin = join(root, version, 'bin');
  const dir = join(work, `pg-${++clusters}`);
  const data = join(dir, 'data');
  execFileSync('mkdir', ['-p', dir]);
  const asRoot = process.getuid() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']));
    const gid = Number(execFileSync('id', ['-g', 'postgres']));
    chownSync(dir, uid, gid);
    chownSync(work, uid, gid);
  }
  const run = (tool, args) => {
    const command = [join(bin, tool), ...args];
    const pinned = cpus ? ['taskset', '-c', cpus, ...command] : command;
    const [cmd, ...argv] = asRoot ? ['runuser', '-u', 'postgres', '--', ...pinned] : pinned;
    const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`${tool}: ${r.stderr || r.stdout}`);
  };
  const port = 20000 + Math.floor(Math.random() * 20000);
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8']);
  // Durable defaults (fsync, synchronous_commit on); a little more memory than the default.
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=2GB -c max_connections=200${settings.map((s) => ` -c ${s}`).join('')}`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** The postmaster's pid (first line of postmaster.pid). */
    postmasterPid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    stop: () => {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
