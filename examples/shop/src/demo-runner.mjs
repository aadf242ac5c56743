// The demo's run, shared by `pnpm demo` (scripts/demo.mjs) and `pnpm demo --polyglot`
// (examples/polyglot/scripts/demo.mjs): a collector, a shop, traffic, the summary.
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

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

/**
 * @typedef {object} DemoVariant
 * @property {string} help                 the usage text of `--help`
 * @property {import('node:util').ParseArgsConfig['options']} [extraOptions]  options of its own
 * @property {(progress: (message: string) => void, fail: (message: string) => never) => void | Promise<void>} prepare
 *   makes sure the shop can start (builds what it needs, or says what to build)
 * @property {string} shopName             `the shop`, `the polyglot shop`: in progress lines
 * @property {(options: import('./launch.mjs').ShopOptions) => Promise<import('./launch.mjs').RunningShop>} startShop
 * @property {number} [startTimeoutMs]     how long a service may take to listen
 * @property {{ services?: readonly import('./catalogue.mjs').ServiceSpec[], title?: string }} [summary]
 *   what the summary names: its services and its title
 */

/**
 * Runs a demo: a collector and a shop on the given ports, the demo traffic, then the summary of
 * what Raceway found; keeps running until Ctrl-C unless `--once`. `pnpm demo` and
 * `pnpm demo --polyglot` differ only in the `variant`.
 *
 * @param {DemoVariant} variant
 */
export async function runDemo(variant) {
  const HELP = variant.help;
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        once: { type: 'boolean', default: false },
        'collector-port': { type: 'string' },
        'shop-port': { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...variant.extraOptions,
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
  await variant.prepare(progress, fail);

  // Imported once prepared: these load the packages' builds, which prepare() checks.
  const { startCollectorProcess } = await import('./collector-process.mjs');
  const { driveDemoTraffic } = await import('./traffic.mjs');
  const { collectorApi } = await import('./collector-api.mjs');
  const { formatSummary, gatherSummary } = await import('./summary.mjs');
  const { StockStore } = await import('./stock.mjs');
  const { PRODUCTS } = await import('./catalogue.mjs');

  const started = performance.now();
  const collectorDb = resolve(dataDir, 'demo.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(collectorDb + suffix, { force: true });

  progress(`starting the collector on port ${collectorPort} (SQLite ${collectorDb})`);
  /** @type {import('./collector-process.mjs').CollectorProcess} */
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

  progress(`starting ${variant.shopName} on ports ${shopPort}-${shopPort + 5}`);
  /** @type {import('./launch.mjs').RunningShop} */
  let shop;
  try {
    shop = await variant.startShop({
      collectorUrl: collector.url,
      dataDir,
      basePort: shopPort,
      flushIntervalMs: 200,
      ...(variant.startTimeoutMs === undefined ? {} : { startTimeoutMs: variant.startTimeoutMs }),
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
    const text = formatSummary(summary, { color: colorWanted(), ...variant.summary });
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

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
function colorWanted() {
  return process.stdout.isTTY === true && !process.env.NO_COLOR;
}
