import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from './cli-process.js';

// The systemd unit and the container recipe of docs/deployment.md, read from the page and run
// as written (paths of this machine substituted), so that the page cannot drift from the CLI.

const page = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'deployment.md'), 'utf8');
const block = (lang: string) => {
  const match = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(page);
  if (!match) throw new Error(`no ${lang} block in docs/deployment.md`);
  return match[1]!;
};
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** The [Service] settings of the unit (a key given twice keeps its last value). */
function unitSettings(): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of block('ini').split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) settings.set(match[1]!, match[2]!);
  }
  return settings;
}

describe('docs/deployment.md', () => {
  it.skipIf(!hasOpenssl)(
    "runs the systemd unit's ExecStart, reloads on its ExecReload signal, and names the exit codes it must not restart on",
    async () => {
      const unit = unitSettings();
      const [node, cli, ...args] = unit.get('ExecStart')!.split(' ');
      expect(node).toBe('/usr/bin/node');
      expect(cli).toMatch(/@raceway\/collector\/dist\/cli\.js$/);
      expect(unit.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
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
        running.child.kill(unit.get('KillSignal') as NodeJS.Signals);
        expect(await running.exited).toBe(0);
      }
      // A bad setting exits with a code the unit does not restart on.
      const bad = await runCli(['serve', '--log-level', 'loud'], { cwd: dir });
      expect(unit.get('RestartPreventExitStatus')!.split(' ')).toContain(String(bad.code));
    },
  );

  it("runs the container's entrypoint with its environment and passes its health check", async () => {
    const recipe = block('dockerfile');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(recipe)![1]!) as string[];
    expect(entrypoint.slice(0, 2)).toEqual(['node', '/app/dist/cli.js']);
    const env = Object.fromEntries(
      /^ENV (.*)$/m
        .exec(recipe)![1]!
        .split(' ')
        .map((pair) => pair.split('=', 2) as [string, string]),
    );
    expect(env).toMatchObject({ RACEWAY_HOST: '0.0.0.0', RACEWAY_PORT: '8080' });
    const dir = mkdtempSync(join(tmpdir(), 'raceway-container-'));
    const running = await startCli(entrypoint.slice(2), {
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
      const check = /^HEALTHCHECK .* CMD node -e "(.*)"$/m.exec(recipe)![1]!;
      const result = spawnSync(process.execPath, ['-e', check.replace('8080', port)]);
      expect(result.status).toBe(0);
      // And it fails when nothing answers (the check can fail).
      const closed = spawnSync(process.execPath, ['-e', check.replace('8080', '1')]);
      expect(closed.status).toBe(1);
    } finally {
      running.child.kill('SIGTERM');
      expect(await running.exited).toBe(0);
    }
  });
});
