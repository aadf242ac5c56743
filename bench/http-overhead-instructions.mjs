// The request overhead of @raceway/express split by cause, counted in machine instructions
// rather than in time: each variant of the hello-world app (http-overhead-app.cjs: context-only
// plus one suspect each, and Raceway itself) runs under valgrind (cachegrind, no cache
// simulation), which counts every instruction the process executes, on all its threads (JIT,
// GC and libuv pool included). The count does not depend on what else the machine is doing,
// where CPU time per request moves by ±30% from run to run on a shared 2-core machine, more
// than the costs looked for.
//
// Every variant serves N1 and then, in a fresh process, N2 requests; instructions per request
// are (count(N2) - count(N1)) / (N2 - N1), so start-up, warm-up and shutdown cancel out.
// Instructions are not time (a cache miss costs more than an add), but extra work, a
// deoptimised hot path or more garbage to collect all show up as more instructions.
//
//   pnpm build && node bench/http-overhead-instructions.mjs [--n1 400] [--n2 2400] [--parallel 2] \
//     [--variants context-only,ctx-on-patch,...]
//
// Needs valgrind. Results: bench/results/http-overhead-instructions.md.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    n1: { type: 'string', default: '400' },
    n2: { type: 'string', default: '2400' },
    connections: { type: 'string', default: '8' },
    parallel: { type: 'string', default: '2' },
    // Keeps cachegrind's per-function counts (<dir>/<variant>-<requests>.out): cg_diff the two
    // runs of a variant, then cg_annotate, shows where its instructions per request go.
    'out-dir': { type: 'string', default: '' },
    // Where the report goes ('-': stdout only).
    out: { type: 'string', default: join(here, 'results', 'http-overhead-instructions.md') },
    // The transport's batch timer in the traced variants. Under valgrind the app serves about
    // 150 requests/s, 40 times fewer than at full speed: with the default 1 s timer a sampled
    // tenth would leave in batches of about 30 events, each paying a whole POST, a cost that
    // batches of 200 spread 7 times thinner at full speed. Stretched, batches fill as there.
    'flush-interval-ms': { type: 'string', default: '30000' },
    variants: {
      type: 'string',
      default:
        'bare,context-only,ctx-none,ctx-writehead-patch,ctx-on-patch,ctx-finish-channel,ctx-finish-listener,ctx-headers,ctx-ids,raceway-unsampled,raceway-sampled,raceway',
    },
  },
});
const n1 = Number(values.n1);
const n2 = Number(values.n2);
const connections = Number(values.connections);
const parallel = Number(values.parallel);
const VARIANTS = values.variants.split(',').filter(Boolean);
if (!VARIANTS.includes('context-only')) VARIANTS.unshift('context-only');

/** Starts a child that prints `listening on <url>`; `stop` resolves with everything it printed. */
function start(command, args, env = {}) {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    err += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const listening = new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearInterval(poll);
        resolve(match[1]);
      }
    }, 50);
    exited.then((code) => {
      clearInterval(poll);
      reject(new Error(`${args.join(' ')} exited with ${code}: ${out}\n${err}`));
    });
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    return { out, err };
  };
  return listening.then((url) => ({ url, stop }));
}

/** Instructions the app process executed while serving `requests` requests, start to exit. */
async function count(variant, sinkUrl, requests) {
  const app = await start(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      `--cachegrind-out-file=${values['out-dir'] ? join(values['out-dir'], `${variant}-${requests}.out`) : '/dev/null'}`,
      // The JIT writes code: valgrind must notice code that changes.
      '--smc-check=all-non-file',
      process.execPath,
      join(here, 'http-overhead-app.cjs'),
      variant,
      sinkUrl,
    ],
    { RACEWAY_BENCH_FLUSH_INTERVAL_MS: values['flush-interval-ms'] },
  );
  const result = await autocannon({ url: app.url, connections, amount: requests, timeout: 60 });
  const { out, err } = await app.stop();
  const refs = /I\s+refs:\s+([\d,]+)/.exec(err);
  const stats = /stats (.*)/.exec(out);
  if (!refs) throw new Error(`${variant}: no instruction count\n${err.slice(-2000)}`);
  const served = stats ? JSON.parse(stats[1]).requests : Number.NaN;
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    console.error(`${variant}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return { instructions: Number(refs[1].replaceAll(',', '')), served };
}

const sink = await start(process.execPath, [join(here, 'discard-sink.mjs')]);
const perRequest = {};
const queue = [...VARIANTS];
await Promise.all(
  Array.from({ length: parallel }, async () => {
    for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
      const small = await count(v, sink.url, n1);
      const large = await count(v, sink.url, n2);
      perRequest[v] = (large.instructions - small.instructions) / (large.served - small.served);
      console.error(`${v}: ${Math.round(perRequest[v])} instructions/request`);
    }
  }),
);
await sink.stop();

const base = perRequest['context-only'];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const report = `# HTTP overhead split by cause, in instructions per request

Command: \`pnpm build && node bench/http-overhead-instructions.mjs --n1 ${n1} --n2 ${n2} --connections ${connections} --flush-interval-ms ${values['flush-interval-ms']} --variants ${VARIANTS.join(',')}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString()}.

Each variant of \`bench/http-overhead-app.cjs\` runs under valgrind (cachegrind, instruction
count only) serving ${fmt(n1)} and then, in a fresh process, ${fmt(n2)} requests (autocannon,
${connections} keep-alive connections); instructions per request are the difference of the two
counts over the difference of the requests served. Every thread of the app process counts
(JIT, GC, libuv pool, export). The count does not move with the machine's load.

| variant | instructions/request | over context-only | context-only / variant |
|---|---|---|---|
${VARIANTS.map((v) => `| ${v} | ${fmt(perRequest[v])} | ${v === 'context-only' ? 'n/a' : fmt(perRequest[v] - base)} | ${((base / perRequest[v]) * 100).toFixed(1)}% |`).join('\n')}
`;
if (values.out !== '-') writeFileSync(values.out, report);
console.log(report);
