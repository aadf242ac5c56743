#!/usr/bin/env node
// `pnpm demo`: the collector, the six services of the example shop and some traffic, then a
// summary of what Raceway found. Keeps running until Ctrl-C; `--once` prints and exits.
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `Usage: pnpm demo [-- options]   (or: node examples/shop/scripts/demo.mjs [options])

Starts a Raceway collector and the example shop (six services), sends traffic, waits for the
analysis and prints what Raceway found. Keeps running until Ctrl-C.

Options:
  --once                   print the summary and exit
  --collector-port <n>     the collector's port (default 8080)
  --shop-port <n>          the shop's first port; the services take n..n+5 (default 3000)
  --data-dir <dir>         where the collector's and the shop's databases go, replaced on
                           every run (default .raceway in the current directory)
  --polyglot               the same shop written in TypeScript, Python, Go and Rust
  -h, --help               show this help
`;

const PACKAGES = [
  '@raceway/core',
  '@raceway/express',
  '@raceway/koa',
  '@raceway/fastify',
  '@raceway/fetch',
  '@raceway/axios',
  '@raceway/collector',
];

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

/** The packages' builds, which the services import exactly as a user's app would. */
function checkBuilt() {
  const missing = PACKAGES.filter((name) => {
    try {
      return !existsSync(fileURLToPath(import.meta.resolve(name)));
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    fail(
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not built: run \`pnpm build\` first (\`pnpm demo\` does it for you), and \`pnpm install\` if that fails`,
    );
  }
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        once: { type: 'boolean', default: false },
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
  checkBuilt();

  const { startCollectorProcess } = await import('../src/collector-process.mjs');
  const { startShop } = await import('../src/launch.mjs');
  const { driveDemoTraffic } = await import('../src/traffic.mjs');
  const { collectorApi } = await import('../src/collector-api.mjs');
  const { formatSummary, gatherSummary } = await import('../src/summary.mjs');
  const { StockStore } = await import('../src/stock.mjs');
  const { PRODUCTS } = await import('../src/catalogue.mjs');

  const started = performance.now();
  const collectorDb = resolve(dataDir, 'demo.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(collectorDb + suffix, { force: true });

  progress(`starting the collector on port ${collectorPort} (SQLite ${collectorDb})`);
  /** @type {import('../src/collector-process.mjs').CollectorProcess} */
  let collector;
  try {
    collector = await startCollectorProcess({
      port: collectorPort,
      storage: `sqlite:${collectorDb}`,
      analysisDelayMs: 300,
    });
  } catch (error) {
    const message = /** @type {Error} */ (error).message;
    if (message.includes('already in use')) {
      fail(
        `port ${collectorPort} is already in use (another collector or demo?): stop it, or pick another port with \`pnpm demo --collector-port <n>\``,
      );
    }
    fail(`the collector did not start: ${message}`);
  }

  progress(`starting the shop on ports ${shopPort}-${shopPort + 5}`);
  /** @type {import('../src/launch.mjs').RunningShop} */
  let shop;
  try {
    shop = await startShop({
      collectorUrl: collector.url,
      dataDir,
      basePort: shopPort,
      flushIntervalMs: 200,
    });
  } catch (error) {
    await collector.stop();
    const message = /** @type {Error} */ (error).message;
    if (message.includes('already in use')) {
      fail(
        `${message.split('\n').find((line) => line.includes('already in use'))}\n      stop what uses it, or pick other ports with \`pnpm demo --shop-port <n>\``,
      );
    }
    fail(`the shop did not start: ${message}`);
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
    process.stdout.write(`\n${formatSummary(summary, { color: colorWanted() })}`);
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

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
function colorWanted() {
  return process.stdout.isTTY === true && !process.env.NO_COLOR;
}

// `pnpm demo --polyglot`: the same shop in four languages, with a demo script of its own.
if (process.argv.includes('--polyglot')) await import('../../polyglot/scripts/demo.mjs');
else await main();
