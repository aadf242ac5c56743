// Ingestion while hostile bodies arrive: the collector (`raceway serve`, built, SQLite) takes a
// small valid batch every 25 ms from one client, timed, while a thread of its own sends ten
// amplification bodies at a time, over and over: 19 KB of gzip that inflate to `{"events":[`
// and ten million `[`. The baseline is the same posting with no attacker, in the same run.
//
//   pnpm build && node bench/ingest-under-attack.mjs [--seconds 8] [--parallel 10]
//
// Results: bench/results/ingest-under-attack.md.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { builtCollectorCli } from './collector-cli.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    parallel: { type: 'string', default: '10' },
    out: { type: 'string', default: 'results/ingest-under-attack.md' },
  },
});
const SECONDS = Number(values.seconds);
const hex = (bytes) => randomBytes(bytes).toString('hex');
const PARALLEL = Number(values.parallel);

if (!isMainThread) {
  // The attacker: PARALLEL bombs in flight at all times until told to stop.
  const { url, parallel } = workerData;
  const bomb = gzipSync(
    Buffer.concat([Buffer.from('{"events":['), Buffer.alloc(10_000_000, '[')]),
    { level: 9 },
  );
  let stop = false;
  let sent = 0;
  const statuses = {};
  parentPort.on('message', () => {
    stop = true;
  });
  const loop = async () => {
    while (!stop) {
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: bomb,
      }).catch(() => null);
      await res?.arrayBuffer();
      sent++;
      const key = res?.status ?? 'error';
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  parentPort.postMessage({ sent, statuses, bombBytes: bomb.length });
} else {
  await main();
}

async function main() {
  const cli = builtCollectorCli();
  const dir = mkdtempSync(join(tmpdir(), 'raceway-attack-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const collector = spawn(
    process.execPath,
    [cli, 'serve', '--port', String(port), '--storage', `sqlite:${join(dir, 'db.sqlite')}`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(url);
    const baseline = await postEvery25ms(url, SECONDS);
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { url, parallel: PARALLEL },
    });
    const attackDone = new Promise((resolve) => worker.once('message', resolve));
    const attacked = await postEvery25ms(url, SECONDS);
    worker.postMessage('stop');
    const attack = await attackDone;
    await worker.terminate();
    const report = render({ baseline, attacked, attack });
    writeFileSync(join(here, values.out), report);
    console.log(report);
  } finally {
    collector.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitUntilUp(url) {
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the collector did not start');
}

/** A valid batch of two events of a fresh trace. */
function smallBatch() {
  const traceId = hex(16);
  const component = `svc#${hex(4)}`;
  const base = { trace_id: traceId, span_id: hex(8), parent_span_id: null, service: 'svc' };
  const now = Date.now() * 1000;
  return {
    events: [
      {
        ...base,
        id: hex(16),
        instance: 'svc-1',
        component,
        ts_us: now,
        kind: 'request_received',
        clock: { [component]: 1 },
        data: {
          method: 'GET',
          path: '/x',
          route: '/x',
          incoming: { status: 'absent', reasons: [] },
        },
      },
      {
        ...base,
        id: hex(16),
        instance: 'svc-1',
        component,
        ts_us: now + 1000,
        kind: 'response_sent',
        clock: { [component]: 2 },
        data: { method: 'GET', route: '/x', status: 200, duration_ms: 1 },
      },
    ],
  };
}

/** Posts a small batch every 25 ms for `seconds`; the answer times in ms and the statuses. */
async function postEvery25ms(url, seconds) {
  const times = [];
  const statuses = {};
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const body = JSON.stringify(smallBatch());
    const start = performance.now();
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    times.push(performance.now() - start);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    await new Promise((r) => setTimeout(r, 25));
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { n: times.length, p50: at(0.5), p99: at(0.99), max: times.at(-1), statuses };
}

function render({ baseline, attacked, attack }) {
  const row = (name, r) =>
    `| ${name} | ${r.n} | ${JSON.stringify(r.statuses)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`;
  const ratio = attacked.p99 / baseline.p99;
  for (const run of [baseline, attacked]) {
    if (Object.keys(run.statuses).some((s) => s !== '200'))
      throw new Error(`the valid batches were not all accepted: ${JSON.stringify(run.statuses)}`);
  }
  return `# Ingestion under an amplification attack

Command (from the repository root, after \`pnpm build\`):

\`\`\`sh
node bench/ingest-under-attack.mjs --seconds ${SECONDS} --parallel ${PARALLEL}
\`\`\`

Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}; node ${process.version}, ${new Date().toISOString().slice(0, 10)}. The collector (\`raceway serve\`, SQLite) runs in its own process.

One client posts a valid batch of 2 events every 25 ms and times each answer. During the
second run, ${PARALLEL} bodies of ${attack.bombBytes.toLocaleString('en')} bytes of gzip (\`{"events":[\` and ten million \`[\`) are in flight at all
times from another thread: ${attack.sent.toLocaleString('en')} sent, answered ${JSON.stringify(attack.statuses)}.

| run | answers | statuses | p50 ms | p99 ms | max ms |
|---|---:|---|---:|---:|---:|
${row('baseline: no attacker', baseline)}
${row(`${PARALLEL} amplification bodies at a time`, attacked)}

## Target

- Other ingestion under 200 ms p99 during the attack: ${attacked.p99.toFixed(1)} ms (${ratio.toFixed(1)}x the baseline's p99), ${attacked.p99 < 200 ? 'met' : 'not met'}.
`;
}
