#!/usr/bin/env node
// `pnpm demo --polyglot` (or `pnpm demo:polyglot`): the collector and the shop's six services
// written in four languages (TypeScript, Python, Go, Rust), the TypeScript demo's traffic, then
// the same summary. Builds what each language needs first (scripts/build.sh). Keeps running
// until Ctrl-C; `--once` prints and exits.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PRODUCTS } from '@raceway/example-shop/src/catalogue.mjs';
import { collectorApi } from '@raceway/example-shop/src/collector-api.mjs';
import { startCollectorProcess } from '@raceway/example-shop/src/collector-process.mjs';
import { StockStore } from '@raceway/example-shop/src/stock.mjs';
import { formatSummary, gatherSummary } from '@raceway/example-shop/src/summary.mjs';
import { driveDemoTraffic } from '@raceway/example-shop/src/traffic.mjs';
import { SERVICES } from '../src/catalogue.mjs';
import { startPolyglotShop } from '../src/launch.mjs';

const HELP = `Usage: pnpm demo --polyglot [options]   (or: pnpm demo:polyglot [-- options])

Builds the polyglot shop (a Python virtualenv, a Go and a Rust binary), starts a Raceway
collector and the six services (TypeScript, Python, Go, Rust), sends traffic, waits for the
analysis and prints what Raceway found. Keeps running until Ctrl-C.

Options:
  --once                   print the summary and exit
  --collector-port <n>     the collector's port (default 8080)
  --shop-port <n>          the shop's first port; the services take n..n+5 (default 3000)
  --data-dir <dir>         where the collector's and the shop's databases go, replaced on
                           every run (default .raceway in the current directory)
  -h, --help               show this help
`;

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

/** @param {string} message */
function progress(message) {
  process.stderr.write(`› ${message}\n`);
}

/**
 * @param {string | undefined} value
 * @param {number} fallback
 * @param {string} option
 */
function portOption(value, fallback, option) {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${option} must be a port number (1-65535), got "${value}"`);
  }
  return port;
}

function build() {
  const script = fileURLToPath(new URL('./build.sh', import.meta.url));
  // The build's progress goes to stderr, with the demo's, so that stdout is the summary alone.
  const result = spawnSync('bash', [script], { stdio: ['ignore', process.stderr, 'inherit'] });
  if (result.status !== 0) fail(`building the polyglot shop failed (bash ${script})`);
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        once: { type: 'boolean', default: false },
        // Given when `pnpm demo --polyglot` hands over to this script.
        polyglot: { type: 'boolean', default: true },
        'collector-port': { type: 'string' },
        'shop-port': { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${/** @type {Error} */ (error).message}\n\n${HELP}`);
  }
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  const collectorPort = portOption(args['collector-port'], 8080, '--collector-port');
  const shopPort = portOption(args['shop-port'], 3000, '--shop-port');
  if (shopPort > 65530) fail('--shop-port must leave room for six ports (at most 65530)');
  const dataDir = resolve(args['data-dir'] ?? '.raceway');

  const started = performance.now();
  progress('building the Python, Go and Rust services (scripts/build.sh)');
  build();

  const collectorDb = resolve(dataDir, 'demo.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(collectorDb + suffix, { force: true });
  progress(`starting the collector on port ${collectorPort} (SQLite ${collectorDb})`);
  /** @type {import('@raceway/example-shop/src/collector-process.mjs').CollectorProcess} */
  let collector;
  try {
    collector = await startCollectorProcess({
      port: collectorPort,
      storage: `sqlite:${collectorDb}`,
      analysisDelayMs: 300,
    });
  } catch (error) {
    fail(`the collector did not start: ${/** @type {Error} */ (error).message}`);
  }

  progress(`starting the polyglot shop on ports ${shopPort}-${shopPort + 5}`);
  /** @type {import('@raceway/example-shop/src/launch.mjs').RunningShop} */
  let shop;
  try {
    shop = await startPolyglotShop({
      collectorUrl: collector.url,
      dataDir,
      basePort: shopPort,
      flushIntervalMs: 200,
      // A cold Python or Rust process takes longer to listen than a Node.js one.
      startTimeoutMs: 30_000,
    });
  } catch (error) {
    await collector.stop();
    fail(`the shop did not start: ${/** @type {Error} */ (error).message}`);
  }

  const stopAll = async () => {
    await shop.stop();
    await collector.stop();
  };
  try {
    progress('sending traffic: browsing, checkouts one by one, a burst of simultaneous checkouts');
    const traffic = await driveDemoTraffic(shop.urls.frontend ?? '');
    const api = collectorApi(collector.url);
    progress('waiting for the events and the analysis');
    if (args.once) {
      // Stopping the services flushes their last events: the analysis then sees everything.
      await shop.stop();
      await api.analyze();
    } else {
      await api.settle();
    }
    const sku = PRODUCTS[0]?.sku ?? 'mug';
    const store = new StockStore(shop.stockDb);
    const actual = store.get(sku)?.stock ?? Number.NaN;
    store.close();
    const summary = await gatherSummary({
      api,
      storage: `SQLite ${collectorDb}`,
      traffic,
      stock: { sku, expected: (PRODUCTS[0]?.stock ?? 0) - traffic.itemsOrdered, actual },
    });
    progress(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const text = formatSummary(summary, {
      color: process.stdout.isTTY === true && !process.env.NO_COLOR,
      services: SERVICES,
      title: 'Raceway demo: the polyglot shop (TypeScript, Python, Go, Rust), traced and analysed',
    });
    process.stdout.write(`\n${text}`);
  } catch (error) {
    await stopAll();
    fail(/** @type {Error} */ (error).message);
  }

  if (args.once) {
    await stopAll();
    return;
  }
  process.stdout.write(
    `\nThe shop and the collector keep running; Ctrl-C stops them.\n  try   curl -X POST ${shop.urls.frontend}/checkout\n  then  curl ${collector.url}/api/races\n`,
  );
  await new Promise((done) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write('\n');
      progress('stopping the shop, then the collector');
      void stopAll().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

await main();
