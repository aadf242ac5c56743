// A long trace that is one request tree (a gateway request under which every other request of
// the trace is a call), receiving 10 events at a time: what one append costs the incremental
// analysis (`IncrementalTraceAnalysis`: append, then result), against a full analysis of the
// same events (`analyzeTrace`) in the same run. Straight from the TypeScript sources:
//
//   pnpm --filter @raceway/bench exec node --expose-gc --import tsx incremental-one-tree.mjs
//
// Options: --sizes 2000,20000,100000 (events in the trace before the appends), --appends 40
// (appends timed per size; the median is reported), --out results/incremental-one-tree.md
// ('-' for stdout only), --before <path> (another copy of the analysis module, e.g. an older
// version: measured in the same run, row by row).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { trace } from './ingest-events.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const SIZES = (args.sizes ?? '2000,20000,100000').split(',').map(Number);
const APPENDS = Number(args.appends ?? 40);
const OUT = args.out ?? 'results/incremental-one-tree.md';
const load = async (path) => import(pathToFileURL(resolve(here, path)).href);
const versions = [['this checkout', await load('../packages/collector/src/analysis/index.ts')]];
if (args.before) versions.unshift(['before', await load(args.before)]);

/** `count` events of one request tree: the requests `trace()` makes, all under one gateway span. */
function oneTree(count) {
  const traceId = 'a'.repeat(32);
  const gateway = 'f'.repeat(16);
  const t0 = 1_700_000_000_000_000;
  const raw = [];
  while (raw.length < count) trace(raw);
  const events = raw.slice(0, count - 1).map((e, i) => ({
    ...e,
    trace_id: traceId,
    parent_span_id: e.parent_span_id ?? gateway,
    ts_us: t0 + (i + 1) * 10,
    // Rows of its own per request: the races stay few, the tree is what grows.
    ...(typeof e.data.resource === 'string'
      ? { data: { ...e.data, resource: `${e.data.resource}@${e.component}` } }
      : {}),
  }));
  const start = {
    ...events[0],
    id: 'f'.repeat(32),
    span_id: gateway,
    parent_span_id: null,
    service: 'gateway',
    instance: 'gateway-1',
    component: 'gateway#1',
    ts_us: t0,
    kind: 'request_received',
    clock: { 'gateway#1': 1 },
    data: { method: 'POST', route: '/batch', incoming: { status: 'absent', reasons: [] } },
  };
  return [start, ...events];
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor((list.length - 1) / 2)];
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));

const rows = [];
for (const n of SIZES) {
  const events = oneTree(n + APPENDS * 10);
  const initial = events.slice(0, n);
  for (const [name, { IncrementalTraceAnalysis, analyzeTrace }] of versions) {
    globalThis.gc?.();
    const state = new IncrementalTraceAnalysis();
    state.append(initial);
    state.result();
    const wall = [];
    const cpu = [];
    let bytes = 0;
    for (let i = 0; i < APPENDS; i++) {
      const batch = events.slice(n + i * 10, n + (i + 1) * 10);
      const w0 = performance.now();
      const c0 = cpuMs();
      state.append(batch);
      const result = state.result();
      cpu.push(cpuMs() - c0);
      wall.push(performance.now() - w0);
      bytes = JSON.stringify(result).length;
    }
    if (state.mode.incremental !== true) throw new Error(`${name}: not incremental`);
    globalThis.gc?.();
    const w0 = performance.now();
    analyzeTrace(events.slice(0, n + APPENDS * 10));
    const fullMs = performance.now() - w0;
    const row = { n, name, appendMs: median(wall), appendCpuMs: median(cpu), fullMs, bytes };
    rows.push(row);
    console.log(row);
  }
}

const table = [
  '| events in the tree | analysis module | append + result, median ms | CPU ms | full analysis ms | append / full | analysis JSON bytes |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.n} | ${r.name} | ${fmt(r.appendMs)} | ${fmt(r.appendCpuMs)} | ${fmt(r.fullMs)} | ${(r.appendMs / r.fullMs).toFixed(4)} | ${r.bytes} |`,
  ),
].join('\n');
const md = `# Appends to a trace that is one request tree

\`node --expose-gc --import tsx incremental-one-tree.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (from bench/; ${os.cpus().length} cores, load average ${os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ')} at the end).
Every request of the trace is a call under one gateway request (still running: its response
has not come), so the whole trace is one span component. ${APPENDS} appends of 10 events (the
next events in time: new calls under the gateway and the ends of calls in progress), each
followed by \`result()\`; the full analysis is \`analyzeTrace\` over the same events once, in the
same run. "analysis JSON bytes" is the size of the result, what the collector stores per
append.

${table}
`;
if (OUT !== '-') writeFileSync(resolve(here, OUT), md);
console.log(md);
