import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerfileParser } from 'dockerfile-ast';
import { describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type RunningCli, runCli, startCli } from './cli-process.js';
import { createTestDatabase, makeTrace, postBatch } from './fixtures.js';
import { findPgBin, freePort } from './pg-cluster.js';

// The files of deploy/ (the container image, the compose file, the systemd unit), parsed and
// run as written (this machine's paths and a free port substituted), so that they cannot drift
// from the CLI.

const root = join(__dirname, '..', '..', '..');
const deploy = join(root, 'deploy');
const readDeploy = (name: string) => readFileSync(join(deploy, name), 'utf8');
const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
  bin: { raceway: string };
};
const adminUrl = inject('pgUrl');
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function only<T>(list: T[], what: string): T {
  if (list.length !== 1) throw new Error(`deploy/Dockerfile: ${list.length} ${what}, expected 1`);
  return list[0]!;
}

/** What the image of deploy/Dockerfile runs: its final stage. */
function image() {
  const dockerfile = DockerfileParser.parse(readDeploy('Dockerfile'));
  const final = dockerfile.getFROMs().at(-1)!;
  const stage = dockerfile.getContainingImage(final.getRange().start)!;
  const entrypoint = only(stage.getENTRYPOINTs(), 'ENTRYPOINT')
    .getJSONStrings()
    .map((s) => s.getJSONValue());
  const cmd =
    stage
      .getCMDs()
      .at(-1)
      ?.getJSONStrings()
      .map((s) => s.getJSONValue()) ?? [];
  const env = Object.fromEntries(
    stage.getENVs().flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue()])),
  ) as Record<string, string>;
  const healthcheck = only(stage.getHEALTHCHECKs(), 'HEALTHCHECK');
  expect(healthcheck.getSubcommand()?.getValue()).toBe('CMD');
  // The parser splits HEALTHCHECK's arguments on spaces, not as the JSON array of its exec
  // form: the array (what follows CMD) is read as the JSON it is.
  const check = JSON.parse(healthcheck.getArgumentsContent()!.replace(/^CMD\s+/, '')) as string[];
  // The collector's package is copied to /app: the entrypoint runs its bin.
  const copies = stage.getCOPYs().map((c) => c.getArguments().map((a) => a.getValue()));
  expect(copies).toContainEqual(['/out', '/app']);
  return { entrypoint, cmd, env, check };
}

/** The `raceway` arguments of an image command line (`node /app/<bin> ...`). */
function racewayArgs(argv: string[]): string[] {
  expect(argv.slice(0, 2)).toEqual(['node', join('/app', pkg.bin.raceway)]);
  return argv.slice(2);
}

/** Runs the image's health check (`node -e <script>`) against a collector on `port`. */
function runHealthcheck(check: string[], imagePort: string, port: string | number): number | null {
  expect(check.slice(0, 2)).toEqual(['node', '-e']);
  const script = check[2]!;
  // Exactly /healthz (other paths may answer 200: the web UI's pages).
  expect(script).toContain(`'http://127.0.0.1:${imagePort}/healthz'`);
  return spawnSync(process.execPath, ['-e', script.replace(`:${imagePort}/`, `:${port}/`)]).status;
}

/**
 * Compose's interpolation of `${NAME}`, `${NAME:-default}` and `${NAME:?error}` (the forms
 * deploy/compose.yaml uses); any other `$` form fails the test rather than be misread.
 */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}|\$/g,
    (whole, name?: string, op?: string, arg?: string) => {
      if (!name)
        throw new Error(`deploy/compose.yaml: "${value}" has a $ form this test does not read`);
      const set = vars[name];
      if (set !== undefined && set !== '') return set;
      if (op === ':-') return arg!;
      throw new Error(
        `deploy/compose.yaml needs ${name}${op === ':?' ? `: ${arg}` : ''} (${whole})`,
      );
    },
  );
}

async function stop(running: RunningCli, signal: NodeJS.Signals = 'SIGTERM') {
  running.child.kill(signal);
  expect(await running.exited).toBe(0);
}

describe('deploy/', () => {
  it.skipIf(!hasOpenssl)(
    'raceway-collector.service: runs its ExecStart, reloads on its ExecReload signal, and names the exit codes it must not restart on',
    async () => {
      // A unit file is lines of Key=Value under [Section] headers; this one has no quoting,
      // line continuations or repeated keys (checked below), so a line split reads it as
      // systemd does.
      const text = readDeploy('raceway-collector.service');
      const unit = new Map<string, string>();
      let section = '';
      for (const line of text.split('\n')) {
        const header = /^\[(\w+)\]$/.exec(line);
        if (header) section = header[1]!;
        const match = /^([A-Za-z]+)=(.*)$/.exec(line);
        if (!match) continue;
        const key = `${section}.${match[1]!}`;
        expect(unit.has(key), `${key} given twice`).toBe(false);
        expect(match[2], `${key} is quoted`).not.toMatch(/["'\\]/);
        unit.set(key, match[2]!);
      }
      if (hasSystemdAnalyze) {
        // systemd's own reading: no unknown key, no value it cannot parse. (It may say that
        // this machine has no /usr/bin/node; nothing else.)
        const verify = spawnSync(
          'systemd-analyze',
          ['verify', '--man=no', join(deploy, 'raceway-collector.service')],
          { encoding: 'utf8' },
        );
        const complaints = verify.stderr
          .split('\n')
          .filter((line) => line.trim() !== '' && !line.includes('/usr/bin/node'));
        expect(complaints).toEqual([]);
      }
      const [node, cli, ...args] = unit.get('Service.ExecStart')!.split(' ');
      expect(node).toBe('/usr/bin/node');
      expect(cli).toBe(join('/opt/raceway/node_modules', '@raceway/collector', pkg.bin.raceway));
      expect(unit.get('Service.ExecReload')).toBe('/bin/kill -HUP $MAINPID');
      const dir = mkdtempSync(join(tmpdir(), 'raceway-unit-'));
      const cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
          ...['-keyout', key, '-out', cert, '-subj', '/CN=localhost'],
          ...['-addext', 'subjectAltName=IP:127.0.0.1'],
        ],
        { stdio: 'ignore' },
      );
      // This machine's paths, a free port, loopback only.
      const local = args.map((arg) =>
        arg === '/etc/raceway/tls/cert.pem'
          ? cert
          : arg === '/etc/raceway/tls/key.pem'
            ? key
            : arg === '8080'
              ? '0'
              : arg === '0.0.0.0'
                ? '127.0.0.1'
                : arg,
      );
      const running = await startCli(local, {
        cwd: dir,
        env: { RACEWAY_STORAGE: `sqlite:${join(dir, 'raceway.db')}` },
      });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          get(`${running.url}/healthz`, { ca: readFileSync(cert), agent: false }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          }).on('error', reject);
        });
        expect(status).toBe(200);
        running.child.kill('SIGHUP');
        for (let i = 0; i < 100 && !running.stdout().includes('TLS files read again'); i++) {
          await sleep(50);
        }
        expect(running.stdout()).toContain('TLS files read again');
      } finally {
        await stop(running, unit.get('Service.KillSignal') as NodeJS.Signals);
      }
      // A bad setting exits with a code the unit does not restart on.
      const bad = await runCli(['serve', '--log-level', 'loud'], { cwd: dir });
      expect(unit.get('Service.RestartPreventExitStatus')!.split(' ')).toContain(String(bad.code));
    },
  );

  it("Dockerfile: runs the image's entrypoint with its environment and passes its health check", async () => {
    const { entrypoint, cmd, env, check } = image();
    expect(env).toMatchObject({ RACEWAY_HOST: '0.0.0.0', RACEWAY_PORT: '8080' });
    expect(env.RACEWAY_STORAGE).toMatch(/^sqlite:\/var\/lib\/raceway\//);
    const dir = mkdtempSync(join(tmpdir(), 'raceway-container-'));
    const running = await startCli(racewayArgs([...entrypoint, ...cmd]), {
      cwd: dir,
      env: {
        ...env,
        RACEWAY_HOST: '127.0.0.1',
        RACEWAY_PORT: '0',
        RACEWAY_STORAGE: `sqlite:${join(dir, 'raceway.db')}`,
      },
    });
    try {
      const port = new URL(running.url).port;
      expect(runHealthcheck(check, env.RACEWAY_PORT!, port)).toBe(0);
      // And it fails when nothing answers (the check can fail).
      expect(runHealthcheck(check, env.RACEWAY_PORT!, await freePort())).toBe(1);
    } finally {
      await stop(running);
    }
  });

  it.skipIf(!adminUrl)(
    "compose.yaml: runs the collector service's command and environment on PostgreSQL, and both health checks pass",
    async () => {
      const compose = parseYaml(readDeploy('compose.yaml'));
      const { collector, postgres } = compose.services;
      // The collector is the image of deploy/Dockerfile, started once PostgreSQL is healthy.
      expect(resolve(deploy, collector.build.context, collector.build.dockerfile)).toBe(
        join(deploy, 'Dockerfile'),
      );
      expect(collector.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      const [volume] = (postgres.volumes[0] as string).split(':');
      expect(Object.keys(compose.volumes)).toContain(volume);

      const vars = {
        POSTGRES_PASSWORD: 'composepassword1',
        RACEWAY_API_KEYS: 'ingest-key-1',
        RACEWAY_READ_KEYS: 'read-key-1',
      };
      const env = Object.fromEntries(
        Object.entries(collector.environment as Record<string, string>).map(([k, v]) => [
          k,
          interpolate(String(v), vars),
        ]),
      );
      // The storage URL names the postgres service, its user, password and database.
      const storage = new URL(env.RACEWAY_STORAGE!);
      expect(storage.protocol).toBe('postgres:');
      expect(storage.hostname).toBe('postgres');
      expect(storage.port).toBe('5432');
      expect(storage.username).toBe(postgres.environment.POSTGRES_USER);
      expect(storage.password).toBe(vars.POSTGRES_PASSWORD);
      expect(storage.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`);

      const pgBin = findPgBin();
      const admin = new URL(adminUrl!);
      if (pgBin) {
        // PostgreSQL's health check, run against this machine's server.
        const [form, program, ...args] = postgres.healthcheck.test as string[];
        expect(form).toBe('CMD');
        const ready = (port: string) =>
          spawnSync(join(pgBin, program!), args, {
            env: { ...process.env, PGHOST: admin.hostname, PGPORT: port },
          }).status;
        expect(ready(admin.port)).toBe(0);
        expect(ready(String(await freePort()))).not.toBe(0);
      }

      const { entrypoint, cmd, env: imageEnv, check } = image();
      const command = ((collector.command as string[] | undefined) ?? cmd).map((arg) =>
        interpolate(arg, vars),
      );
      const dir = mkdtempSync(join(tmpdir(), 'raceway-compose-'));
      const running = await startCli(
        racewayArgs([...(collector.entrypoint ?? entrypoint), ...command]),
        {
          cwd: dir,
          env: {
            ...imageEnv,
            ...env,
            // This machine's PostgreSQL (a fresh database), loopback, a free port.
            RACEWAY_STORAGE: await createTestDatabase(adminUrl!),
            RACEWAY_HOST: '127.0.0.1',
            RACEWAY_PORT: '0',
          },
        },
      );
      try {
        expect(running.line).toContain('PostgreSQL');
        expect(runHealthcheck(check, imageEnv.RACEWAY_PORT!, new URL(running.url).port)).toBe(0);
        // The keys of the environment are those the collector asks for.
        const events = makeTrace();
        expect((await postBatch(running.url, { events })).status).toBe(401);
        const auth = (key: string) => ({ authorization: `Bearer ${key}` });
        const stored = await postBatch(
          running.url,
          { events },
          { headers: auth(vars.RACEWAY_API_KEYS) },
        );
        expect(stored.status).toBe(200);
        const read = await fetch(`${running.url}/api/traces/${events[0]!.trace_id}`, {
          headers: auth(vars.RACEWAY_READ_KEYS),
        });
        expect(read.status).toBe(200);
      } finally {
        await stop(running);
      }
    },
  );

  it('docs/deployment.md quotes the files of deploy/ as they are', () => {
    const page = readFileSync(join(root, 'docs', 'deployment.md'), 'utf8');
    const files = ['Dockerfile', 'compose.yaml', 'raceway-collector.service'].map(readDeploy);
    const excerpts = [...page.matchAll(/```(?:dockerfile|yaml|ini)\n([\s\S]*?)```/g)].map(
      (m) => m[1]!,
    );
    expect(excerpts.length).toBeGreaterThan(0);
    for (const excerpt of excerpts) {
      expect(
        files.some((file) => file.includes(excerpt)),
        excerpt,
      ).toBe(true);
    }
    for (const name of ['Dockerfile', 'compose.yaml', 'raceway-collector.service']) {
      expect(existsSync(join(deploy, name))).toBe(true);
      expect(page).toContain(`(../deploy/${name})`);
    }
  });
});
