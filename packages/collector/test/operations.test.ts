import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { startCollector } from '../src/server.js';
import { runCli, startCli } from './cli-process.js';
import { everyKind, makeTrace, postBatch } from './fixtures.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const hasCurl = spawnSync('curl', ['--version']).status === 0;

/** A self-signed certificate for 127.0.0.1 and localhost, written as cert.pem and key.pem. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** GET over TLS trusting only `ca`: the status, or the TLS error's code. */
function getWithCa(url: string, ca: string): Promise<number | string> {
  return new Promise((resolve) => {
    // A connection of its own: a kept-alive one would carry the certificate it started with.
    get(url, { ca: readFileSync(ca), agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('/metrics', () => {
  it('counts ingestion, drops, backlog and storage time in the Prometheus format, behind the read key', async () => {
    const collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      apiKeys: ['ingest-key'],
      analysisDelayMs: 60_000,
    });
    try {
      const auth = { authorization: 'Bearer ingest-key' };
      const valid = makeTrace();
      const bad = { ...everyKind()[0]!, kind: 'no_such_kind' };
      const answer = await postBatch(
        collector.url,
        { events: [...valid, bad], dropped: 7 },
        { headers: auth },
      );
      expect(answer.status).toBe(422);
      expect((await postBatch(collector.url, { events: valid }, { headers: auth })).status).toBe(
        200,
      );

      expect((await fetch(`${collector.url}/metrics`)).status).toBe(401);
      const response = await fetch(`${collector.url}/metrics`, { headers: auth });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
      const value = (name: string, labels: Record<string, string> = {}) =>
        Number(
          families
            .get(name)
            ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
            ?.value,
        );
      expect(value('raceway_events_accepted_total')).toBe(valid.length);
      expect(value('raceway_events_duplicate_total')).toBe(valid.length);
      expect(value('raceway_events_rejected_total')).toBe(1);
      expect(value('raceway_sdk_dropped_events_total')).toBe(7);
      expect(value('raceway_ingest_requests_total', { status: '422' })).toBe(1);
      expect(value('raceway_ingest_requests_total', { status: '200' })).toBe(1);
      expect(value('raceway_ingest_requests_in_flight')).toBe(0);
      // The analysis waits a minute: the trace is in the backlog.
      expect(value('raceway_analysis_pending_traces')).toBe(1);
      expect(families.get('raceway_storage_operation_seconds')?.type).toBe('HISTOGRAM');
      // Read from the text: the parser keeps one series of a labelled histogram (it expects
      // `le` last, prom-client writes it first).
      expect(text).toMatch(
        /^raceway_storage_operation_seconds_count\{operation="insertEvents",outcome="ok"\} 2$/m,
      );
      expect(families.has('raceway_process_resident_memory_bytes')).toBe(true);
    } finally {
      await collector.close();
    }
  });
});

describe.skipIf(!hasOpenssl)(
  `TLS${hasOpenssl ? '' : ' (skipped: no openssl to make a certificate)'}`,
  () => {
    it('serves HTTPS with --tls-cert/--tls-key and takes a renewed certificate on SIGHUP', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'raceway-tls-'));
      const first = selfSigned(dir, 'first');
      const cli = await startCli(
        [
          'serve',
          '--port',
          '0',
          '--storage',
          'sqlite::memory:',
          '--tls-cert',
          first.cert,
          '--tls-key',
          first.key,
        ],
        { cwd: dir },
      );
      try {
        expect(cli.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        expect(await getWithCa(`${cli.url}/healthz`, first.cert)).toBe(200);
        if (hasCurl) {
          const curl = spawnSync('curl', ['-sS', '--cacert', first.cert, `${cli.url}/healthz`], {
            encoding: 'utf8',
          });
          expect(curl.status).toBe(0);
          expect(JSON.parse(curl.stdout).status).toBe('ok');
        }
        // Plain HTTP to it is no answer.
        await expect(fetch(cli.url.replace('https', 'http'))).rejects.toThrow();

        // A renewed certificate (another key): new connections get it after SIGHUP.
        const old = join(dir, 'old-cert.pem');
        execFileSync('cp', [first.cert, old]);
        const second = selfSigned(dir, 'second');
        execFileSync('cp', [second.cert, first.cert]);
        execFileSync('cp', [second.key, first.key]);
        cli.child.kill('SIGHUP');
        for (let i = 0; i < 100 && !cli.stdout().includes('TLS files read again'); i++)
          await sleep(50);
        expect(await getWithCa(`${cli.url}/healthz`, second.cert)).toBe(200);
        // The old certificate is not served any more: a client trusting only it refuses.
        expect(await getWithCa(`${cli.url}/healthz`, old)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      } finally {
        cli.child.kill('SIGTERM');
        await cli.exited;
      }
    });

    it('refuses a certificate without a key, and an unreadable file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'raceway-tls-'));
      const alone = await runCli(
        ['serve', '--port', '0', '--storage', 'sqlite::memory:', '--tls-cert', 'x.pem'],
        { cwd: dir },
      );
      expect(alone.code).toBe(2);
      expect(alone.stderr).toMatch(/--tls-key/);
      const missing = await runCli(
        [
          'serve',
          '--port',
          '0',
          '--storage',
          'sqlite::memory:',
          '--tls-cert',
          'x.pem',
          '--tls-key',
          'y.pem',
        ],
        { cwd: dir },
      );
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read the TLS certificate .*x\.pem \(ENOENT\)/);
    });
  },
);

describe('--log-level', () => {
  it('logs every request at info, and refuses an unknown level', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raceway-log-'));
    const cli = await startCli(
      ['serve', '--port', '0', '--storage', 'sqlite::memory:', '--log-level', 'info'],
      { cwd: dir },
    );
    try {
      await fetch(`${cli.url}/healthz`);
      for (let i = 0; i < 100 && !cli.stdout().includes('"url":"/healthz"'); i++) await sleep(50);
      const line = cli
        .stdout()
        .split('\n')
        .find((l) => l.includes('"url":"/healthz"'));
      expect(JSON.parse(line!)).toMatchObject({ level: 30, msg: 'incoming request' });
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    const quiet = await startCli(['serve', '--port', '0', '--storage', 'sqlite::memory:'], {
      cwd: dir,
      env: { RACEWAY_LOG_LEVEL: 'warn' },
    });
    try {
      await fetch(`${quiet.url}/healthz`);
      await sleep(200);
      expect(quiet.stdout()).not.toContain('incoming request');
    } finally {
      quiet.child.kill('SIGTERM');
      await quiet.exited;
    }
    const bad = await runCli(['serve', '--log-level', 'loud'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/log level "loud" is not one of fatal, error, warn, info/);
  });
});
