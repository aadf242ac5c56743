// The web UI with a large trace: how long Chromium takes to open the trace view of a trace of
// 10,000 events (waterfall, critical path and space-time view drawn), against the same view
// of a checkout-sized trace (26 events) in the same run; and the size of the UI's bundle.
//
//   pnpm --filter @raceway/collector build && node bench/ui-open.mjs [--events 10000] [--rounds 5]
//
// Results: bench/results/ui.md. Chromium is Debian's /usr/bin/chromium, driven by playwright-core.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { startCollector } from '@raceway/collector';
import { launchChromium } from '@raceway/example-shop/src/browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
  },
});
const targetEvents = Number(values.events);
const rounds = Number(values.rounds);

const hex = (bytes) => randomBytes(bytes).toString('hex');
const SERVICES = ['api', 'auth', 'inventory', 'order', 'payment'];

/**
 * A trace as the shop makes them, scaled: a frontend request that calls the other services
 * one after another; each callee reads and writes `perCall` resources.
 */
function makeTrace(calls, perCall) {
  const traceId = hex(16);
  const events = [];
  let ts = Date.now() * 1000 - 60_000_000;
  const rootSpan = hex(8);
  const root = { component: `frontend#${hex(4)}`, clock: {} };
  const record = (ctx, fields) => {
    ctx.clock[ctx.component] = (ctx.clock[ctx.component] ?? 0) + 1;
    ts += 50;
    events.push({
      id: hex(16),
      trace_id: traceId,
      instance: 'bench-1',
      component: ctx.component,
      ts_us: ts,
      clock: { ...ctx.clock },
      ...fields,
    });
  };
  const server = { span_id: rootSpan, parent_span_id: null, service: 'frontend' };
  record(root, {
    ...server,
    kind: 'request_received',
    data: {
      method: 'POST',
      path: '/checkout',
      route: '/checkout',
      incoming: { status: 'absent', reasons: [] },
    },
  });
  for (let i = 0; i < calls; i += 1) {
    const service = SERVICES[i % SERVICES.length];
    const client = { span_id: hex(8), parent_span_id: rootSpan, service: 'frontend' };
    const url = `http://${service}:8080/work`;
    record(root, {
      ...client,
      kind: 'request_sent',
      data: { method: 'POST', url, host: `${service}:8080` },
    });
    const callee = { component: `${service}#${hex(4)}`, clock: { ...root.clock } };
    const span = { span_id: hex(8), parent_span_id: client.span_id, service };
    record(callee, {
      ...span,
      kind: 'request_received',
      data: {
        method: 'POST',
        path: '/work',
        route: '/work',
        incoming: { status: 'accepted', reasons: [] },
      },
    });
    for (let k = 0; k < perCall; k += 1) {
      const resource = `item:${(i * perCall + k) % 97}`;
      const kind = k % 2 === 0 ? 'state_read' : 'state_write';
      record(callee, { ...span, kind, data: { resource, value: k } });
    }
    record(callee, {
      ...span,
      kind: 'response_sent',
      data: { method: 'POST', route: '/work', status: 200, duration_ms: 1 },
    });
    for (const [key, value] of Object.entries(callee.clock)) {
      root.clock[key] = Math.max(root.clock[key] ?? 0, value);
    }
    record(root, {
      ...client,
      kind: 'response_received',
      data: { method: 'POST', url, host: `${service}:8080`, status: 200, duration_ms: 1 },
    });
  }
  record(root, {
    ...server,
    kind: 'response_sent',
    data: { method: 'POST', route: '/checkout', status: 201, duration_ms: 10 },
  });
  return { traceId, events };
}

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
 * ms from navigation start until the trace view is drawn (waterfall, critical path, space-time
 * view), and until every page of the trace's events has arrived and is drawn. Functions, not
 * strings: the UI's Content-Security-Policy forbids eval.
 */
async function openTime(page, url) {
  await page.goto(url);
  const wait = async (complete) => {
    const handle = await page.waitForFunction(
      (needComplete) => {
        const drawn =
          document.querySelector('[data-testid=waterfall] [data-span-id]') &&
          document.querySelector('[data-testid=space-time] [data-event-id]') &&
          document.querySelector('[data-testid=critical-path]');
        const done = document.querySelector('[data-testid=trace-view][data-complete=true]');
        return drawn && (!needComplete || done) ? performance.now() : null;
      },
      complete,
      { polling: 'raf', timeout: 60_000 },
    );
    return handle.jsonValue();
  };
  const drawn = await wait(false);
  const complete = await wait(true);
  return { drawn, complete };
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

const loadBefore = loadavg()[0];
const collector = await startCollector({
  port: 0,
  storage: 'sqlite::memory:',
  analysisDelayMs: 60_000,
});
const small = makeTrace(4, 2); // 26 events, as a shop checkout
// 40 calls keep the frontend's clock within the 64 entries of the wire bound (spec 3.4).
const calls = 40;
const large = makeTrace(calls, Math.max(0, Math.round((targetEvents - 2) / calls) - 4));
await send(collector.url, small.events);
await send(collector.url, large.events);
await collector.analyzeNow();

const browser = await launchChromium();
const times = { small: [], large: [], largeComplete: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  // Warm-up: the browser's caches hold the bundle, as for a user coming back.
  await openTime(page, `${collector.url}/traces/${small.traceId}`);
  for (let round = 0; round < rounds; round += 1) {
    times.small.push((await openTime(page, `${collector.url}/traces/${small.traceId}`)).drawn);
    const { drawn, complete } = await openTime(page, `${collector.url}/traces/${large.traceId}`);
    times.large.push(drawn);
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
const completeMs = median(times.largeComplete);
const report = `# Web UI: bundle size and the open time of a large trace

Command: \`pnpm --filter @raceway/collector build && node bench/ui-open.mjs --events ${targetEvents} --rounds ${rounds}\`
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

Time from navigation start until the waterfall, the critical path and the space-time view are
drawn (the four API calls of the view included; bundle from the browser's cache), median of
${rounds} rounds, both traces in the same run:

| trace | events | median | rounds (ms) |
|---|---:|---:|---|
| checkout-sized (baseline) | ${small.events.length} | ${smallMs.toFixed(0)} ms | ${times.small.map((t) => t.toFixed(0)).join(', ')} |
| large, drawn (first page of events) | ${large.events.length} | ${largeMs.toFixed(0)} ms | ${times.large.map((t) => t.toFixed(0)).join(', ')} |
| large, every event loaded and drawn | ${large.events.length} | ${completeMs.toFixed(0)} ms | ${times.largeComplete.map((t) => t.toFixed(0)).join(', ')} |

Ratio large / baseline: **${(largeMs / smallMs).toFixed(2)}×** drawn, **${(completeMs / smallMs).toFixed(2)}×**
complete. Target: under 1 s for 10,000 events: drawn ${largeMs < 1000 ? 'met' : 'NOT met'},
complete ${completeMs < 1000 ? 'met' : 'NOT met'}.

The collector answers a trace's events in pages of at most 5,000 (\`next_cursor\`), one after
the other; the UI draws the trace after the first page and adds each further page as it
arrives ("loading more events…"). Most of the complete time is the collector writing those
pages (about 3 MB of JSON each here, clocks of up to 41 entries per event), not the browser.
`;
writeFileSync(join(here, 'results', 'ui.md'), report);
process.stdout.write(report);
