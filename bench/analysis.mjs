// Collector analysis, straight from the TypeScript sources (run through tsx, no build needed):
// intra-trace race detection (fast sweep vs the brute-force definition, same run, same
// output checked), cross-trace lost updates, critical path, dependency graph and service
// metrics, on seeded synthetic workloads.
//
//   pnpm --filter @raceway/bench exec node --expose-gc --import tsx analysis.mjs
//
// Options: --sizes 1e4,1e5,1e6 (race detection sizes), --brute-max 1e5 (largest size the
// brute force runs at), --hot-sizes 1e3,1e4,1e5 and --hot-brute-max 1e4 (the same for one hot
// resource), --runs 3 (timed runs per figure after a warm-up; the best is reported),
// --out results/analysis.md (where the markdown goes; '-' for stdout only), --only critical,races,hot,adversarial,cross,graph (run only these sections, e.g. to
// profile one with --cpu-prof), --analysis <path> (the analysis module to measure, by default
// this checkout's; a copy of an older version gives a before/after in one run), --baseline
// <path> (another copy measured in the same process, alternating with --analysis, for the
// critical path, intra-trace race and cross-trace sections; the bench checks that both give the
// same result).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const ANALYSIS = resolve(here, args.analysis ?? '../packages/collector/src/analysis/index.ts');
const {
  analyzeTrace,
  buildDependencyGraph,
  buildSpanTree,
  computeCriticalPath,
  detectCrossTraceRaces,
  detectRacesBruteForce,
  detectTraceRaces,
  serviceMetrics,
} = await import(pathToFileURL(ANALYSIS).href);
// The code to compare with (e.g. a copy of the committed analysis), or null.
const BASELINE = args.baseline
  ? await import(pathToFileURL(resolve(here, args.baseline)).href)
  : null;
const SIZES = (args.sizes ?? '1e4,1e5,1e6').split(',').map(Number);
const BRUTE_MAX = Number(args['brute-max'] ?? 1e5);
const RUNS = Number(args.runs ?? 3);
const HOT_SIZES = (args['hot-sizes'] ?? '1e3,1e4,1e5').split(',').map(Number);
const HOT_BRUTE_MAX = Number(args['hot-brute-max'] ?? 1e4);
const ONLY = args.only?.split(',') ?? null;
const OUT = args.out ?? 'results/analysis.md';
/** Whether the section runs (every one unless --only names some). */
const wanted = (section) => ONLY === null || ONLY.includes(section);
const WRITERS = (args.writers ?? '2000,20000').split(',').map(Number);

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** Seeded PRNG (mulberry32), so every run measures the same workload. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let idSeq = 0;
const hex = (n, len) => n.toString(16).padStart(len, '0');
const newId = () => hex(++idSeq, 32);
const newSpan = () => hex(++idSeq, 16);
const T0 = 1_700_000_000_000_000;

function gc() {
  globalThis.gc?.();
}

/**
 * Best wall time (ms) of `runs` calls of fn after one untimed warm-up call (so that compiling
 * the code is not measured), its best CPU time (ms, user + system of the whole process, GC
 * threads included) and its last result. The machine is shared: other work can only add time,
 * so the best run is the closest to what the code costs; CPU time is less affected by other
 * work than wall time. `runs` 1 means one cold call.
 */
function time(fn, runs = RUNS) {
  const times = [];
  const cpuTimes = [];
  let result;
  if (runs > 1) fn();
  for (let i = 0; i < runs; i++) {
    gc();
    const cpu = process.cpuUsage();
    const t = performance.now();
    result = fn();
    times.push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    cpuTimes.push((used.user + used.system) / 1000);
  }
  return { ms: Math.min(...times), cpuMs: Math.min(...cpuTimes), result };
}

/** Peak RSS of the process so far, in MiB. */
function peakRssMiB() {
  return process.resourceUsage().maxRSS / 1024;
}

function check(condition, message) {
  if (!condition) throw new Error(`analysis bench: ${message}`);
}

/**
 * The adversarial trace: k contexts of one trace each writing one resource once, none
 * synchronised with another (k^2/2 racing pairs if enumerated), as JSON text.
 */
function concurrentWritersJson(k) {
  const events = [];
  for (let i = 0; i < k; i++) {
    const component = `writer#${hex(i, 8)}`;
    events.push({
      id: newId(),
      trace_id: 'a'.repeat(32),
      span_id: newSpan(),
      parent_span_id: null,
      service: 'writer',
      instance: 'writer-1',
      component,
      ts_us: T0 + i,
      kind: 'state_write',
      clock: { [component]: 1 },
      data: { resource: 'stock:1', value: i },
    });
  }
  return JSON.stringify(events);
}

// Child mode: analyse one adversarial trace in a fresh process, so that its peak memory is its
// own; prints JSON. The baseline is JSON.parse of the same trace (reading it from storage).
if (args['adversarial-child'] !== undefined) {
  const k = Number(args['adversarial-child']);
  const text = concurrentWritersJson(k);
  const parse = time(() => JSON.parse(text));
  const events = parse.result;
  gc();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const t = performance.now();
  const analysis = analyzeTrace(events);
  const ms = performance.now() - t;
  const heapAfter = process.memoryUsage().heapUsed;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const group = analysis.races[0];
  check(
    analysis.races.length === 1 && group.count === k - 1,
    `${k} writers: one group of ${k - 1}`,
  );
  process.stdout.write(
    JSON.stringify({
      k,
      ms,
      parseMs: parse.ms,
      heapGrowthMiB: (heapAfter - heapBefore) / 1048576,
      peakAboveStartMiB: Math.max(0, peakRss - rssBefore) / 1048576,
      peakRssMiB: peakRss / 1048576,
      count: group.count,
      limits: analysis.diagnostics.analysisLimits.map((l) => l.kind),
    }),
  );
  process.exit(0);
}

/**
 * One trace of n state accesses by `contexts` concurrent contexts (forked branches and calls of
 * one request, 4 services) that synchronise now and then (a call answered, a branch joined:
 * one context's clock merged into another's). 60% of accesses touch state private to their
 * context (a cart), 40% shared stock on 1000 resources (1% of them take 20% of the shared
 * accesses), half of those under the resource's lock. 40% writes, 5% of them atomic. Clocks
 * follow the rules: each event increments its context's own entry.
 */
function raceWorkload(
  n,
  { contexts = 16, resources = 1000, privateShare = 0.6, syncRate = 0.15, seed = 42 } = {},
) {
  const random = rng(seed);
  const traceId = newId();
  const spanId = newSpan();
  const comps = Array.from(
    { length: contexts },
    (_, i) => `svc-${i % 4}#${hex(0x10000000 + i, 8)}`,
  );
  const clocks = comps.map(() => ({}));
  const events = [];
  let ts = T0;
  let accesses = 0;
  const emit = (t, kind, data) => {
    const clock = clocks[t];
    clock[comps[t]] = (clock[comps[t]] ?? 0) + 1;
    ts += 3;
    events.push({
      id: newId(),
      trace_id: traceId,
      span_id: spanId,
      parent_span_id: null,
      service: `svc-${t % 4}`,
      instance: `svc-${t % 4}-1`,
      component: comps[t],
      ts_us: ts,
      kind,
      clock: { ...clock },
      data,
    });
  };
  while (accesses < n) {
    const t = Math.floor(random() * contexts);
    if (random() < syncRate) {
      const u = (t + 1 + Math.floor(random() * (contexts - 1))) % contexts;
      const from = clocks[t];
      const to = clocks[u];
      for (const key in from) if ((to[key] ?? 0) < from[key]) to[key] = from[key];
      emit(u, 'join', { child: comps[t] });
      continue;
    }
    let resource;
    let lock = null;
    if (random() < privateShare) {
      resource = `cart:${t}:${Math.floor(random() * 50)}`;
    } else {
      const r = Math.floor(random() * (random() < 0.2 ? Math.ceil(resources / 100) : resources));
      resource = `stock:${r}`;
      if (random() < 0.5) lock = `lock-${r}`;
    }
    if (lock) emit(t, 'lock_acquire', { lock });
    if (random() < 0.4)
      emit(t, 'state_write', { resource, value: accesses, atomic: random() < 0.05 });
    else emit(t, 'state_read', { resource, value: accesses % 7 });
    accesses++;
    if (lock) emit(t, 'lock_release', { lock });
  }
  return viaJson(events);
}

/**
 * Events as the collector hands them over: parsed from stored JSON (chunked, to stay below
 * the string length limit).
 */
function viaJson(events) {
  const out = [];
  for (let i = 0; i < events.length; i += 20_000) {
    for (const event of JSON.parse(JSON.stringify(events.slice(i, i + 20_000)))) out.push(event);
  }
  return out;
}

/**
 * One trace of about n spans: a request fanning out level by level; each server span makes 1-4
 * calls, in parallel or one after another, each answered by a server span of one of 12
 * services (one of them on a host whose clock runs 40 ms ahead). Server spans and client spans
 * nest in time with a little network delay.
 */
function spanWorkload(n, seed = 7) {
  const random = rng(seed);
  const traceId = newId();
  const events = [];
  const event = (service, spanId, parent, ts, kind, data) => {
    const component = `${service}#${hex(0x20000000 + (idSeq % 0xfffffff), 8)}`;
    events.push({
      id: newId(),
      trace_id: traceId,
      span_id: spanId,
      parent_span_id: parent,
      service,
      instance: `${service}-1`,
      component,
      ts_us: Math.round(ts + (service === 'svc-7' ? 40_000 : 0)),
      kind,
      clock: { [component]: 1 },
      data,
    });
  };
  const server = (service, parent, start, end) => {
    const spanId = newSpan();
    event(service, spanId, parent, start, 'request_received', {
      method: 'GET',
      path: '/',
      route: '/',
      incoming: { status: parent ? 'accepted' : 'absent', reasons: [] },
    });
    event(service, spanId, parent, end, 'response_sent', {
      method: 'GET',
      route: '/',
      status: 200,
      duration_ms: (end - start) / 1000,
    });
    return { spanId, service, start, end };
  };
  const queue = [server('svc-0', null, 0, 10_000_000)];
  let spans = 1;
  for (let q = 0; q < queue.length && spans < n; q++) {
    const parent = queue[q];
    const calls = Math.min(1 + Math.floor(random() * 4), Math.floor((n - spans) / 2));
    const parallel = random() < 0.5;
    const length = parent.end - parent.start;
    for (let c = 0; c < calls; c++) {
      const slot = parallel ? [0.1, 0.9] : [0.1 + (0.8 * c) / calls, 0.1 + (0.8 * (c + 1)) / calls];
      const start = parent.start + length * slot[0] + random() * length * 0.02;
      const end = parent.start + length * slot[1] - random() * length * 0.02;
      const clientId = newSpan();
      const service = `svc-${1 + Math.floor(random() * 11)}`;
      event(parent.service, clientId, parent.spanId, start, 'request_sent', {
        method: 'GET',
        url: `http://${service}/`,
        host: service,
      });
      const child = server(
        service,
        clientId,
        start + (end - start) * 0.002,
        end - (end - start) * 0.002,
      );
      event(parent.service, clientId, parent.spanId, end, 'response_received', {
        method: 'GET',
        url: `http://${service}/`,
        host: service,
        status: 200,
        duration_ms: (end - start) / 1000,
        remote_clock: true,
      });
      queue.push(child);
      spans += 2;
    }
  }
  return { events: viaJson(events), spans };
}

/**
 * About n request/response events of many traces: calls among 20 services (2% failing),
 * plus calls to an uninstrumented payments host.
 */
function callWorkload(n, seed = 11) {
  const random = rng(seed);
  const events = [];
  let ts = T0;
  const push = (traceId, service, spanId, parent, kind, data) => {
    ts += 5;
    events.push({
      id: newId(),
      trace_id: traceId,
      span_id: spanId,
      parent_span_id: parent,
      service,
      instance: `${service}-${1 + (spanId.charCodeAt(15) % 3)}`,
      component: `${service}#${spanId.slice(8)}`,
      ts_us: ts,
      kind,
      clock: { [`${service}#${spanId.slice(8)}`]: 1 },
      data,
    });
  };
  while (events.length < n) {
    const traceId = newId();
    for (let call = 0; call < 10 && events.length < n; call++) {
      const caller = `svc-${Math.floor(random() * 20)}`;
      const uninstrumented = random() < 0.05;
      const callee = uninstrumented
        ? 'payments.example.com:443'
        : `svc-${Math.floor(random() * 20)}`;
      const latency = 1 + random() * random() * 200;
      const status = random() < 0.02 ? 503 : 200;
      const client = newSpan();
      push(traceId, caller, client, null, 'request_sent', {
        method: 'GET',
        url: `http://${callee}/`,
        host: callee,
      });
      if (!uninstrumented) {
        const serverSpan = newSpan();
        push(traceId, callee, serverSpan, client, 'request_received', {
          method: 'GET',
          path: '/',
          incoming: { status: 'accepted', reasons: [] },
        });
        push(traceId, callee, serverSpan, client, 'response_sent', {
          method: 'GET',
          status,
          duration_ms: latency * 0.9,
        });
      }
      push(traceId, caller, client, null, 'response_received', {
        method: 'GET',
        url: `http://${callee}/`,
        host: callee,
        status,
        duration_ms: latency,
      });
    }
  }
  return viaJson(events);
}

/**
 * n state accesses of many traces: each request read-modify-writes one of `resources`
 * resources over 2-20 ms; requests arrive every ~0.5 ms, so windows on hot resources overlap.
 */
function crossTraceWorkload(n, { resources = 2000, seed = 5 } = {}) {
  const random = rng(seed);
  const events = [];
  let t = T0;
  while (events.length < n) {
    const traceId = newId();
    const component = `inventory#${traceId.slice(24)}`;
    const r = Math.floor(random() * (random() < 0.2 ? resources / 100 : resources));
    const value = Math.floor(random() * 3);
    t += Math.round(random() * 1000);
    const readAt = t;
    const writeAt = t + 2000 + Math.round(random() * 18_000);
    const base = {
      trace_id: traceId,
      span_id: traceId.slice(16),
      parent_span_id: null,
      service: 'inventory',
      instance: `inventory-${random() < 0.5 ? 1 : 2}`,
      component,
    };
    events.push({
      ...base,
      id: newId(),
      ts_us: readAt,
      kind: 'state_read',
      clock: { [component]: 1 },
      data: { resource: `stock:${r}`, value },
    });
    events.push({
      ...base,
      id: newId(),
      ts_us: writeAt,
      kind: 'state_write',
      clock: { [component]: 2 },
      data: { resource: `stock:${r}`, value: value - 1 },
    });
  }
  return viaJson(events);
}

/**
 * --baseline: the best wall and CPU time of `runs` calls of each of `current` and `baseline`,
 * alternating (three rounds: load on the shared machine that comes and goes hits both), on
 * stderr; throws unless both return the same (as JSON).
 */
function compareWithBaseline(what, current, baseline, runs) {
  const best = { current: null, baseline: null };
  for (let round = 0; round < 3; round++) {
    for (const [name, fn] of [
      ['baseline', baseline],
      ['current', current],
    ]) {
      const run = time(fn, runs);
      const kept = best[name];
      best[name] = {
        ms: Math.min(kept?.ms ?? Number.POSITIVE_INFINITY, run.ms),
        cpuMs: Math.min(kept?.cpuMs ?? Number.POSITIVE_INFINITY, run.cpuMs),
        json: kept?.json ?? JSON.stringify(run.result),
      };
    }
  }
  check(best.current.json === best.baseline.json, `${what}: baseline and current results differ`);
  console.error(
    `${what}: baseline ${fmt(best.baseline.ms)} ms (CPU ${fmt(best.baseline.cpuMs)} ms), current ${fmt(best.current.ms)} ms (CPU ${fmt(best.current.cpuMs)} ms), same result, load ${os.loadavg()[0].toFixed(1)}`,
  );
}

/** A span tree as plain data (spans by id instead of object links), to compare two builds. */
function spanTreeShape({ spans, roots, root }) {
  const id = (span) => span?.spanId ?? null;
  return {
    spans: spans.map((span) => ({
      ...span,
      firstEvent: span.firstEvent.id,
      startEvent: span.startEvent?.id,
      endEvent: span.endEvent?.id,
      parent: id(span.parent),
      children: span.children.map(id),
    })),
    roots: roots.map(id),
    root: id(root),
  };
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const lines = [];
const log = (line = '') => {
  lines.push(line);
  console.log(line);
};

// ---------------------------------------------------------------- critical path
// Peak RSS is the process's so far: a figure of one section only when run alone (--only).
let critical = null;
if (wanted('critical')) {
  gc();
  let { events: spanEvents, spans } = spanWorkload(1e5);
  const spanEventCount = spanEvents.length;
  // First, on a fresh heap (the other sections leave a large one behind).
  const path = time(() => computeCriticalPath(spanEvents), Math.max(RUNS, 5));
  const tree = time(() => buildSpanTree(spanEvents), Math.max(RUNS, 5));
  // The floor of any span tree: one pass keying each event by its span id.
  const keying = time(
    () => {
      const bySpan = new Map();
      for (const event of spanEvents) bySpan.set(event.span_id, event);
      return bySpan.size;
    },
    Math.max(RUNS, 5),
  );
  // The floor of a span tree with nothing in it but the links: that pass, then one lookup per
  // span of the span its first event names as parent.
  const linking = time(
    () => {
      const bySpan = new Map();
      for (const event of spanEvents) {
        if (!bySpan.has(event.span_id)) bySpan.set(event.span_id, { event, parent: undefined });
      }
      for (const node of bySpan.values()) {
        if (node.event.parent_span_id !== null) node.parent = bySpan.get(node.event.parent_span_id);
      }
      return bySpan.size;
    },
    Math.max(RUNS, 5),
  );
  const walk = time(() => computeCriticalPath(spanEvents, tree.result), Math.max(RUNS, 5));
  if (BASELINE) {
    compareWithBaseline(
      'critical path',
      () => computeCriticalPath(spanEvents),
      () => BASELINE.computeCriticalPath(spanEvents),
      Math.max(RUNS, 5),
    );
    compareWithBaseline(
      'span tree',
      () => spanTreeShape(buildSpanTree(spanEvents)),
      () => spanTreeShape(BASELINE.buildSpanTree(spanEvents)),
      1,
    );
  }
  const whole = time(() => analyzeTrace(spanEvents));
  check(
    path.result !== null && path.result.totalMs === 10_000,
    'critical path must cover the root span',
  );
  check(
    whole.result.diagnostics.clockSkew.some((skew) => skew.calleeService === 'svc-7'),
    'the skewed host must be reported',
  );
  console.error(
    `critical path ${spans} spans: ${fmt(path.ms)} ms (CPU ${fmt(path.cpuMs)} ms), span tree ${fmt(tree.ms)} ms, keying by span id ${fmt(keying.ms)} ms, keying and linking parents ${fmt(linking.ms)} ms, peak RSS ${peakRssMiB().toFixed(0)} MiB`,
  );
  for (const run of [path, tree, walk, whole]) run.result = null;
  spanEvents = null;
  critical = {
    spans,
    spanEventCount,
    path,
    tree,
    keying,
    linking,
    walk,
    whole,
    peakRssMiB: peakRssMiB(),
  };
}

// ---------------------------------------------------------------- intra-trace races
const raceRows = [];
for (const n of wanted('races') ? SIZES : []) {
  gc();
  let events = raceWorkload(n);
  const fast = time(() => detectTraceRaces(events));
  if (BASELINE) {
    compareWithBaseline(
      `races ${n}`,
      () => detectTraceRaces(events),
      () => BASELINE.detectTraceRaces(events),
      RUNS,
    );
  }
  let brute = null;
  if (n <= BRUTE_MAX) {
    brute = time(() => detectRacesBruteForce(events), 1);
    check(
      JSON.stringify(brute.result.map((r) => r.id)) ===
        JSON.stringify(fast.result.map((r) => r.id)),
      `fast and brute-force races differ at ${n} accesses`,
    );
  }
  const kinds = {};
  for (const race of fast.result) kinds[race.kind] = (kinds[race.kind] ?? 0) + 1;
  raceRows.push({
    n,
    events: events.length,
    fast: fast.ms,
    fastCpu: fast.cpuMs,
    brute: brute?.ms ?? null,
    races: fast.result.length,
    kinds,
    peakRssMiB: peakRssMiB(),
  });
  events = null;
  console.error(
    `races ${n}: fast ${fmt(fast.ms)} ms (CPU ${fmt(fast.cpuMs)} ms), brute ${brute ? fmt(brute.ms) : '-'} ms, ${fast.result.length} races, peak RSS ${peakRssMiB().toFixed(0)} MiB`,
  );
}

// One hot resource: every shared access on the same stock entry, where all-pairs is quadratic.
const hotRows = [];
for (const n of wanted('hot') ? HOT_SIZES : []) {
  gc();
  let events = raceWorkload(n, { resources: 1, privateShare: 0.5, seed: 43 });
  const fast = time(() => detectTraceRaces(events));
  let brute = null;
  if (n <= HOT_BRUTE_MAX) {
    brute = time(() => detectRacesBruteForce(events), 1);
    check(
      JSON.stringify(brute.result.map((r) => r.id)) ===
        JSON.stringify(fast.result.map((r) => r.id)),
      `fast and brute-force races differ on the hot resource at ${n} accesses`,
    );
  }
  hotRows.push({ n, fast: fast.ms, brute: brute?.ms ?? null, races: fast.result.length });
  console.error(
    `hot ${n}: fast ${fmt(fast.ms)} ms, brute ${brute ? fmt(brute.ms) : '-'} ms, ${fast.result.length} races`,
  );
  events = null;
}

// ---------------------------------------------------------------- adversarial trace
// Each size in its own process (cold: the first analysis a collector would run), so that the
// peak RSS is that of one analysis.
const adversarialRows = (wanted('adversarial') ? WRITERS : []).map((k) => {
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--analysis',
      ANALYSIS,
      '--adversarial-child',
      String(k),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  const row = JSON.parse(out);
  console.error(
    `adversarial ${k} writers: ${fmt(row.ms)} ms, peak RSS ${row.peakRssMiB.toFixed(0)} MiB (+${row.peakAboveStartMiB.toFixed(0)} MiB during analysis)`,
  );
  return row;
});

// ---------------------------------------------------------------- cross-trace races
const crossRows = [];
for (const n of wanted('cross') ? [1e5, 1e6] : []) {
  gc();
  let events = crossTraceWorkload(n);
  // The detector itself, without the per-pass cap the collector applies (budget.maxCrossTraceRaces).
  const options = { budget: { maxCrossTraceRaces: Number.POSITIVE_INFINITY } };
  const run = time(() => detectCrossTraceRaces(events, options));
  if (BASELINE) {
    compareWithBaseline(
      `cross-trace ${n}`,
      () => detectCrossTraceRaces(events, options),
      () => BASELINE.detectCrossTraceRaces(events, options),
      RUNS,
    );
  }
  events = null;
  crossRows.push({
    n,
    ms: run.ms,
    cpuMs: run.cpuMs,
    races: run.result.length,
    peakRssMiB: peakRssMiB(),
  });
  console.error(
    `cross-trace ${n}: ${fmt(run.ms)} ms (CPU ${fmt(run.cpuMs)} ms), ${run.result.length} lost updates, peak RSS ${peakRssMiB().toFixed(0)} MiB`,
  );
}

// ---------------------------------------------------------------- dependency graph
let dependencies = null;
if (wanted('graph')) {
  gc();
  const callEvents = callWorkload(1e6);
  // Baseline: the least any graph needs, one pass keying every event by trace and span.
  const baseline = time(() => {
    const bySpan = new Map();
    for (const event of callEvents) bySpan.set(`${event.trace_id}:${event.span_id}`, event);
    return bySpan.size;
  });
  const graph = time(() => buildDependencyGraph(callEvents));
  const metrics = time(() => serviceMetrics(callEvents));
  check(
    graph.result.nodes.some((node) => node.uninstrumented),
    'the uninstrumented host must show',
  );
  console.error(`dependency graph ${callEvents.length} events: ${fmt(graph.ms)} ms`);
  dependencies = {
    events: callEvents.length,
    traces: new Set(callEvents.map((e) => e.trace_id)).size,
    baseline,
    graph,
    metrics,
  };
}

// ---------------------------------------------------------------- report
// A partial run (--only) prints its figures on stderr only: the report is of the whole bench.
if (ONLY !== null) process.exit(0);
const { spans, spanEventCount, path, tree, keying, linking, walk, whole } = critical;
const { baseline, graph, metrics } = dependencies;
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
log('# Collector analysis');
log();
log(
  'Pure analysis functions of `packages/collector/src/analysis`, run from the TypeScript sources',
);
log('through tsx, on seeded synthetic workloads (the same events on every run).');
log();
log('Command (from the repository root):');
log();
log('```sh');
log(
  `pnpm --filter @raceway/bench exec node --expose-gc --import tsx analysis.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
);
log('```');
log();
log(
  `Machine: ${os.cpus().length} × ${cpu}, shared with other builds (load average ${os.loadavg()[0].toFixed(1)} at the end of the run); node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
);
log(
  `Each figure is the best of ${RUNS} runs (5 for the critical path) after one warm-up run, since other work on the machine only adds time; the brute force: one cold run.`,
);
log();
log('## Intra-trace races: fast sweep vs brute force');
log();
log('One trace of n state accesses by 16 concurrent contexts of 4 services that synchronise now');
log(
  'and then (clock merges: calls answered, branches joined). 60% of accesses touch state private',
);
log('to their context, 40% shared stock on 1000 resources (1% of them take 20% of the shared');
log('accesses, so hot resources see thousands of accesses at 10^6), half of those under the');
log("resource's lock; 40% writes, 5% of writes atomic. Events are JSON round-tripped, as the");
log(
  'collector reads them from storage. `detectTraceRaces` (the fast sweep: one sort, per-key state,',
);
log('FastTrack epoch test) against `detectRacesBruteForce` (every pair of accesses of a resource,');
log('full vector-clock comparison). Both include preparing the accesses (locks held) and');
log('classifying the races; the bench checks that both report the same races.');
log();
log(
  '| accesses | events | fast ms | fast CPU ms | µs / access | brute force ms | speed-up | peak RSS MiB | races (lost update / write-write / read-write) |',
);
log('|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const row of raceRows) {
  log(
    `| ${row.n.toLocaleString('en-US')} | ${row.events.toLocaleString('en-US')} | ${fmt(row.fast)} | ${fmt(row.fastCpu)} | ${((row.fast * 1000) / row.n).toFixed(2)} | ${row.brute === null ? 'not run' : fmt(row.brute)} | ${row.brute === null ? '' : `${(row.brute / row.fast).toFixed(0)}x`} | ${row.peakRssMiB.toFixed(0)} | ${row.races.toLocaleString('en-US')} (${row.kinds.lost_update ?? 0} / ${row.kinds.write_write ?? 0} / ${row.kinds.read_write ?? 0}) |`,
  );
}
log();
log(
  'Peak RSS is the whole process so far (the events, node, tsx and every section before): run one section alone (`--only races --sizes 1e6`) for its own.',
);
const first = raceRows[0];
const last = raceRows[raceRows.length - 1];
log();
log(
  `Growth: ${last.n / first.n}x the accesses took ${(last.fast / first.fast).toFixed(0)}x the time (µs per access ${((first.fast * 1000) / first.n).toFixed(2)} -> ${((last.fast * 1000) / last.n).toFixed(2)}).`,
);
log();
log('One hot resource: the same workload with half of the accesses on a single stock entry');
log('(half of those under its lock), the case where comparing all pairs is quadratic.');
log();
log('| accesses | fast ms | µs / access | brute force ms | speed-up | races |');
log('|---:|---:|---:|---:|---:|---:|');
for (const row of hotRows) {
  log(
    `| ${row.n.toLocaleString('en-US')} | ${fmt(row.fast)} | ${((row.fast * 1000) / row.n).toFixed(2)} | ${row.brute === null ? 'not run' : fmt(row.brute)} | ${row.brute === null ? '' : `${(row.brute / row.fast).toFixed(0)}x`} | ${row.races.toLocaleString('en-US')} |`,
  );
}
log();
log('## Adversarial trace: k concurrent writers of one resource');
log();
log('One trace of k `state_write` events on one resource, each from its own context, none');
log('synchronised with another: k^2/2 racing pairs if enumerated (2,000 writers once took 9 GiB');
log('and killed the collector). `analyzeTrace` as the collector runs it (races as groups: the');
log('bounded site sweep, critical path, diagnostics), cold, each size in a fresh process; the');
log('baseline is `JSON.parse` of the same trace, what reading it from storage costs at least.');
log('Peak RSS is the whole process (node, tsx, the events); "during analysis" is how far the');
log('peak rose above the RSS just before the call.');
log();
log(
  '| writers | analyzeTrace ms | baseline JSON.parse ms | ratio | peak RSS MiB | during analysis MiB | heap growth MiB | groups / count |',
);
log('|---:|---:|---:|---:|---:|---:|---:|---|');
for (const row of adversarialRows) {
  log(
    `| ${row.k.toLocaleString('en-US')} | ${fmt(row.ms)} | ${fmt(row.parseMs)} | ${(row.ms / row.parseMs).toFixed(1)}x | ${row.peakRssMiB.toFixed(0)} | ${row.peakAboveStartMiB.toFixed(0)} | ${row.heapGrowthMiB.toFixed(1)} | 1 / ${row.count.toLocaleString('en-US')} (${row.limits.join(', ')}) |`,
  );
}
log();
log('## Cross-trace lost updates');
log();
log('n state accesses of n/2 requests, each read-modify-writing one of 2000 resources over');
log('2-20 ms, a request every 0.5 ms on average (hot resources overlap), on two instances.');
log();
log('| accesses | ms | CPU ms | µs / access | peak RSS MiB | lost updates |');
log('|---:|---:|---:|---:|---:|---:|');
for (const row of crossRows)
  log(
    `| ${row.n.toLocaleString('en-US')} | ${fmt(row.ms)} | ${fmt(row.cpuMs)} | ${((row.ms * 1000) / row.n).toFixed(2)} | ${row.peakRssMiB.toFixed(0)} | ${row.races.toLocaleString('en-US')} |`,
  );
log();
log('## Critical path');
log();
log(
  `One trace of ${spans.toLocaleString('en-US')} spans (${spanEventCount.toLocaleString('en-US')} events): a request fanning out level by level,`,
);
log('1-4 calls per server span in parallel or in sequence, 12 services, one host 40 ms ahead (its');
log("spans are shifted into their callers' windows).");
log();
log('| step | ms |');
log('|---|---:|');
log(`| floor: one pass keying each event by its span id | ${fmt(keying.ms)} |`);
log(
  `| floor of a tree of links only: that pass, then one lookup per span of its parent | ${fmt(linking.ms)} |`,
);
log(`| span tree only (\`buildSpanTree\`, baseline) | ${fmt(tree.ms)} |`);
log(`| critical path on a built span tree (skew + clip + walk) | ${fmt(walk.ms)} |`);
log(
  `| \`computeCriticalPath\` (span tree + skew + clip + walk) | ${fmt(path.ms)} (CPU ${fmt(path.cpuMs)}) |`,
);
log(`| \`analyzeTrace\` (races, critical path, diagnostics) | ${fmt(whole.ms)} |`);
log();
log(
  `Peak RSS of the process after this section (the first): ${critical.peakRssMiB.toFixed(0)} MiB.`,
);
log();
log('## Dependency graph and service metrics');
log();
log(
  `${dependencies.events.toLocaleString('en-US')} request/response events of ${dependencies.traces.toLocaleString('en-US')} traces (10 calls each), 20 services, 5% of calls to an`,
);
log(
  'uninstrumented host, 2% failing; latency percentiles from one LatencySketch per edge/service.',
);
log();
log('| function | ms | µs / event |');
log('|---|---:|---:|');
log(
  `| baseline: one pass keying each event by trace and span id | ${fmt(baseline.ms)} | ${((baseline.ms * 1000) / dependencies.events).toFixed(2)} |`,
);
log(
  `| \`buildDependencyGraph\` | ${fmt(graph.ms)} | ${((graph.ms * 1000) / dependencies.events).toFixed(2)} |`,
);
log(
  `| \`serviceMetrics\` | ${fmt(metrics.ms)} | ${((metrics.ms * 1000) / dependencies.events).toFixed(2)} |`,
);
log();
log('## Targets');
log();
const million = raceRows.find((row) => row.n === 1e6);
if (million) {
  log(
    `- 10^6 accesses in one trace under 2 s: ${fmt(million.fast)} ms (CPU ${fmt(million.fastCpu)} ms), ${million.fast < 2000 ? 'met' : 'NOT met'}; time per access ${((first.fast * 1000) / first.n).toFixed(2)} µs at ${first.n.toLocaleString('en-US')} and ${((million.fast * 1000) / million.n).toFixed(2)} µs at 10^6 (near-linear: it grows with the contexts concurrently active on a resource, not with the accesses; the brute force grows with the square of the accesses per resource).`,
  );
}
const worst = adversarialRows.find((row) => row.k === 20_000);
if (worst) {
  log(
    `- 20,000 concurrent writers under 1 s and 256 MiB: ${fmt(worst.ms)} ms, peak RSS ${worst.peakRssMiB.toFixed(0)} MiB for the whole process (+${worst.peakAboveStartMiB.toFixed(0)} MiB during the analysis), ${worst.ms < 1000 && worst.peakRssMiB < 256 ? 'met' : 'NOT met'}.`,
  );
}
log(
  `- Critical path on 10^5 spans under 100 ms: ${fmt(path.ms)} ms from raw events, span tree included, ${path.ms < 100 ? 'met' : 'NOT met'} (the walk itself: ${fmt(walk.ms)} ms).`,
);
const crossMillion = crossRows.find((row) => row.n === 1e6);
if (crossMillion) {
  log(
    `- Cross-trace detection over 10^6 accesses under 2 s: ${fmt(crossMillion.ms)} ms (CPU ${fmt(crossMillion.cpuMs)} ms), ${crossMillion.ms < 2000 ? 'met' : 'NOT met'}.`,
  );
}

if (OUT !== '-') {
  writeFileSync(resolve(here, OUT), `${lines.join('\n')}\n`);
  console.error(`written to ${resolve(here, OUT)}`);
}
