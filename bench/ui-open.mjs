// The web UI with a large trace: how long Chromium takes to show the first screen of the trace
// view (the waterfall's rows drawn) for a trace of 2,000 spans stored through the collector's
// real ingest, against the same view of a trace of about 20 spans in the same run; and the
// size of the UI's bundle.
//
//   pnpm --filter @raceway/collector build && node bench/ui-open.mjs [--spans 2000] [--rounds 5]
//
// Results: bench/results/ui.md. Chromium is Debian's /usr/bin/chromium, driven by playwright-core.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { startCollector } from '@raceway/collector';
import { launchChromium } from '@raceway/example-shop/src/browser.mjs';
import { makeTrace } from '../packages/collector/test/ui/big-trace.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
  },
});
const targetSpans = Number(values.spans);
const rounds = Number(values.rounds);

async function send(url, events) {
  for (let i = 0; i < events.length; i += 2000) {
    const response = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: events.slice(i, i + 2000) }),
    });
    if (!response.ok) throw new Error(`ingest: HTTP ${response.status} ${await response.text()}`);
  }
}

/**
 * ms from navigation start until the first screen is drawn (the waterfall's first rows: what a
 * user reads first), until the whole view is (waterfall, critical path, space-time view), and
 * until every page of the trace's events has arrived and is drawn. Functions, not strings: the
 * UI's Content-Security-Policy forbids eval.
 */
async function openTime(page, url) {
  await page.goto(url);
  const wait = async (stage) => {
    const handle = await page.waitForFunction(
      (stage) => {
        // The waterfall draws the rows in its box at once: one drawn is all of them drawn.
        const first = document.querySelector('[data-testid=waterfall] [data-span-id]');
        const whole =
          first &&
          document.querySelector('[data-testid=space-time] [data-event-id]') &&
          document.querySelector('[data-testid=critical-path]');
        const done = document.querySelector('[data-testid=trace-view][data-complete=true]');
        const reached = stage === 'first' ? first : stage === 'whole' ? whole : whole && done;
        return reached ? performance.now() : null;
      },
      stage,
      { polling: 'raf', timeout: 60_000 },
    );
    return handle.jsonValue();
  };
  const first = await wait('first');
  const whole = await wait('whole');
  const complete = await wait('complete');
  return { first, whole, complete };
}

/** The trace as the collector stored it: its span count, to show the ingest took every event. */
async function stored(url, traceId) {
  const response = await fetch(`${url}/api/traces/${traceId}?limit=1`);
  if (!response.ok) throw new Error(`trace ${traceId}: HTTP ${response.status}`);
  const trace = await response.json();
  const bytes = async (path) =>
    (await (await fetch(`${url}/api/traces/${traceId}${path}`)).text()).length;
  return {
    spans: trace.span_count,
    events: trace.event_count,
    outlineBytes: await bytes('/outline'),
    pageBytes: await bytes('?limit=5000'),
  };
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

const loadBefore = loadavg()[0];
const collector = await startCollector({
  port: 0,
  storage: 'sqlite::memory:',
  analysisDelayMs: 60_000,
});
const small = makeTrace(2, 4); // 21 spans
// 20 services called by the frontend, each calling the others: spans = 1 + 40 × (1 + leaves).
const fanOut = 20;
const large = makeTrace(fanOut, Math.max(0, Math.round((targetSpans - 1) / (2 * fanOut)) - 1));
await send(collector.url, small.events);
await send(collector.url, large.events);
await collector.analyzeNow();
const sizes = {};
for (const trace of [small, large]) {
  const got = await stored(collector.url, trace.traceId);
  sizes[trace.traceId] = got;
  if (got.spans !== trace.spans || got.events !== trace.events.length) {
    throw new Error(
      `stored ${JSON.stringify(got)}, sent ${trace.spans} spans, ${trace.events.length} events`,
    );
  }
}

const browser = await launchChromium();
const times = { small: [], large: [], largeWhole: [], largeComplete: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  // Warm-up: the browser's caches hold the bundle, as for a user coming back.
  await openTime(page, `${collector.url}/traces/${small.traceId}`);
  for (let round = 0; round < rounds; round += 1) {
    times.small.push((await openTime(page, `${collector.url}/traces/${small.traceId}`)).first);
    const { first, whole, complete } = await openTime(
      page,
      `${collector.url}/traces/${large.traceId}`,
    );
    times.large.push(first);
    times.largeWhole.push(whole);
    times.largeComplete.push(complete);
  }
} finally {
  await browser.close();
  await collector.close();
}

const uiDir = fileURLToPath(new URL('../packages/collector/dist/ui/', import.meta.url));
const assets = readdirSync(join(uiDir, 'assets')).map((name) => {
  const body = readFileSync(join(uiDir, 'assets', name));
  return { name, raw: body.length, gzip: gzipSync(body).length };
});
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const total = assets.reduce((sum, a) => ({ raw: sum.raw + a.raw, gzip: sum.gzip + a.gzip }), {
  raw: 0,
  gzip: 0,
});

const smallMs = median(times.small);
const largeMs = median(times.large);
const wholeMs = median(times.largeWhole);
const completeMs = median(times.largeComplete);
const row = (name, trace, ms, list) =>
  `| ${name} | ${trace.spans} | ${trace.events.length} | ${ms.toFixed(0)} ms | ${list.map((t) => t.toFixed(0)).join(', ')} |`;
const report = `# Web UI: bundle size and the open time of a large trace

Command: \`pnpm --filter @raceway/collector build && node bench/ui-open.mjs --spans ${targetSpans} --rounds ${rounds}\`
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, Debian Chromium (headless);
load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (other work on the machine slows every
row alike: compare the ratios).

## Bundle (packages/collector/dist/ui/assets)

| file | size | gzip |
|---|---:|---:|
${assets.map((a) => `| ${a.name.replace(/-[\w-]{8}\./, '-<hash>.')} | ${kib(a.raw)} | ${kib(a.gzip)} |`).join('\n')}
| **total** | **${kib(total.raw)}** | **${kib(total.gzip)}** |

The collector serves the files uncompressed from loopback; the gzip column is what a reverse
proxy with compression would send.

## Opening the trace view

Both traces are sent to \`POST /v1/events\` of a collector started by the bench (SQLite in
memory) and read back (span and event counts checked) before the browser opens them: 19
services, two execution contexts each. Times from navigation start (the API calls of the view
included; bundle from the browser's cache), median of ${rounds} rounds, both traces in the same
run. *First screen*: the waterfall's rows are drawn (what a user reads first); *whole view*:
the critical path and the space-time view too; *complete*: every page of events loaded and
drawn.

| trace | spans | events | median | rounds (ms) |
|---|---:|---:|---:|---|
${row('baseline, first screen', small, smallMs, times.small)}
${row('large, first screen', large, largeMs, times.large)}
${row('large, whole view', large, wholeMs, times.largeWhole)}
${row('large, complete', large, completeMs, times.largeComplete)}

Ratio large / baseline: **${(largeMs / smallMs).toFixed(2)}×** first screen,
**${(wholeMs / smallMs).toFixed(2)}×** whole view, **${(completeMs / smallMs).toFixed(2)}×** complete.
Target: the first screen of ${targetSpans} spans under 1 s: ${largeMs < 1000 ? 'met' : 'NOT met'}.

The view asks for the trace's outline (its spans without their events:
${kib(sizes[large.traceId].outlineBytes)} of JSON for the large trace) and its first page of events
(${kib(sizes[large.traceId].pageBytes)}, the clocks most of it) at once, draws the waterfall from the
outline, then merges in the pages of events as they come and lays out the space-time view
after that (it is below the fold).
`;
writeFileSync(join(here, 'results', 'ui.md'), report);
process.stdout.write(report);
