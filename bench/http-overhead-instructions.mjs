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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
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
    // Without it they go to a temporary directory, read for the compiler's share, then deleted.
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

const outDir = values['out-dir'] || mkdtempSync(join(tmpdir(), 'raceway-instructions-'));

/**
 * Instructions of V8's optimizing compiler (every function of its `v8::internal::compiler`
 * namespace, TurboFan) in a cachegrind output file. Between N1 and N2 requests V8 is still
 * optimizing the hot code, on background threads: a one-time cost of warming up that grows with
 * the amount of code a variant runs, and that a server stops paying once warm (at full speed,
 * after the first 100,000 requests or so, optimizations fall to a few per 5 s).
 */
function compilerInstructions(file) {
  let inCompiler = false;
  let total = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('fn=')) inCompiler = line.includes('v8::internal::compiler::');
    else if (inCompiler && line.charCodeAt(0) >= 48 && line.charCodeAt(0) <= 57)
      total += Number(line.slice(line.indexOf(' ') + 1));
  }
  return total;
}

/** Instructions the app process executed while serving `requests` requests, start to exit. */
async function count(variant, sinkUrl, requests) {
  const outFile = join(outDir, `${variant}-${requests}.out`);
  const app = await start(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      `--cachegrind-out-file=${outFile}`,
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
  return {
    instructions: Number(refs[1].replaceAll(',', '')),
    compiler: compilerInstructions(outFile),
    served,
  };
}

const sink = await start(process.execPath, [join(here, 'discard-sink.mjs')]);
const perRequest = {};
/** Per variant, the optimizing compiler's instructions per request (see `compilerInstructions`). */
const compilingPerRequest = {};
const queue = [...VARIANTS];
await Promise.all(
  Array.from({ length: parallel }, async () => {
    for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
      const small = await count(v, sink.url, n1);
      const large = await count(v, sink.url, n2);
      const served = large.served - small.served;
      perRequest[v] = (large.instructions - small.instructions) / served;
      compilingPerRequest[v] = (large.compiler - small.compiler) / served;
      console.error(
        `${v}: ${Math.round(perRequest[v])} instructions/request, ${Math.round(compilingPerRequest[v])} of them compiling`,
      );
    }
  }),
);
await sink.stop();
if (!values['out-dir']) rmSync(outDir, { recursive: true, force: true });

const base = perRequest['context-only'];
const warm = (v) => perRequest[v] - compilingPerRequest[v];
const warmBase = warm('context-only');
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const report = `# HTTP overhead split by cause, in instructions per request

Command: \`pnpm build && node bench/http-overhead-instructions.mjs --n1 ${n1} --n2 ${n2} --connections ${connections} --flush-interval-ms ${values['flush-interval-ms']} --variants ${VARIANTS.join(',')}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString()}.

Each variant of \`bench/http-overhead-app.cjs\` runs under valgrind (cachegrind, instruction
count only) serving ${fmt(n1)} and then, in a fresh process, ${fmt(n2)} requests (autocannon,
${connections} keep-alive connections); instructions per request are the difference of the two
counts over the difference of the requests served. Every thread of the app process counts
(JIT, GC, libuv pool, export). The count does not move with the machine's load.

Between those two counts V8 is still optimizing the hot code (on background threads), a cost
of warming up that grows with the code a variant runs and stops once the server is warm. The
last three columns leave out the optimizing compiler's instructions (TurboFan, V8's
\`v8::internal::compiler\` functions): what a warm server pays per request.

| variant | instructions/request | over context-only | context-only / variant | compiling | less compiling, over context-only | context-only / variant, less compiling |
|---|---|---|---|---|---|---|
${VARIANTS.map((v) => `| ${v} | ${fmt(perRequest[v])} | ${v === 'context-only' ? 'n/a' : fmt(perRequest[v] - base)} | ${((base / perRequest[v]) * 100).toFixed(1)}% | ${fmt(compilingPerRequest[v])} | ${v === 'context-only' ? 'n/a' : fmt(warm(v) - warmBase)} | ${((warmBase / warm(v)) * 100).toFixed(1)}% |`).join('\n')}
`;
if (values.out !== '-') writeFileSync(values.out, report);
console.log(report);
