import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, urlVariable } from './catalogue.mjs';
import { startChild } from './child-process.mjs';
import { seedStock } from './stock.mjs';

const servicesDir = fileURLToPath(new URL('../services/', import.meta.url));

/**
 * @typedef {object} ShopOptions
 * @property {string} collectorUrl  where the services send their events (`RACEWAY_URL`)
 * @property {string} dataDir       where the stock database is created (`shop.db`, replaced)
 * @property {number} [basePort]    first port: the services listen on basePort + 0..5 in
 *   catalogue order; 0 gives every service a free port; default: the catalogue's ports (3000-3005)
 * @property {number} [flushIntervalMs]  how often the services send their events
 * @property {number} [startTimeoutMs]   per service (default 15 s)
 * @property {readonly import('./catalogue.mjs').ServiceSpec[]} [services]  default: this shop's
 * @property {(name: string) => ServiceCommand} [command]  how to run a service; default:
 *   `node services/<name>.mjs`
 */

/**
 * @typedef {object} ServiceCommand
 * @property {string} [command]  default: this Node.js
 * @property {string} [script]
 * @property {string[]} [args]
 */

/**
 * @typedef {object} RunningShop
 * @property {Record<string, string>} urls  base URL of every service, by name
 * @property {string} stockDb               the stock database file
 * @property {Record<string, import('./child-process.mjs').Child>} children
 * @property {() => Promise<void>} stop  SIGTERM to every service, callers first; each one
 *   finishes its requests, flushes its events to the collector and exits
 */

/**
 * Starts the six services of the shop as child processes, callees before their callers (each
 * caller is given its callees' real URLs, so free ports work), and resolves once every one
 * answers its health check.
 *
 * @example
 * const shop = await startShop({ collectorUrl: 'http://127.0.0.1:8080', dataDir: '.raceway' });
 * await fetch(`${shop.urls.frontend}/checkout`, { method: 'POST' });
 * await shop.stop();
 *
 * @param {ShopOptions} options
 * @returns {Promise<RunningShop>}
 */
export async function startShop(options) {
  const services = options.services ?? SERVICES;
  const command =
    options.command ??
    ((/** @type {string} */ name) => ({ script: join(servicesDir, `${name}.mjs`) }));
  const stockDb = join(options.dataDir, 'shop.db');
  seedStock(stockDb);
  /** @type {Record<string, string>} */
  const urls = {};
  /** @type {Record<string, import('./child-process.mjs').Child>} */
  const children = {};
  const stop = async () => {
    for (const level of startLevels(services).reverse()) {
      await Promise.all(level.map((name) => children[name]?.stop()));
    }
  };

  try {
    for (const level of startLevels(services)) {
      // allSettled: when one service fails, the others of its level are known (and stopped).
      const started = await Promise.allSettled(
        level.map(async (name) => {
          const { child, match } = await startChild({
            name,
            ...command(name),
            env: serviceEnv(services, name, options, stockDb, urls),
            ready: new RegExp(`^${name} listening on (http://\\S+)$`),
            timeoutMs: options.startTimeoutMs ?? 15_000,
          });
          children[name] = child;
          urls[name] = /** @type {string} */ (match[1]);
          await waitHealthy(name, urls[name]);
        }),
      );
      const failed = started.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw /** @type {PromiseRejectedResult} */ (failed).reason;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls, stockDb, children, stop };
}

/**
 * @param {readonly import('./catalogue.mjs').ServiceSpec[]} services
 * @param {string} name
 * @param {ShopOptions} options
 * @param {string} stockDb
 * @param {Record<string, string>} urls
 * @returns {NodeJS.ProcessEnv}
 */
function serviceEnv(services, name, options, stockDb, urls) {
  const index = services.findIndex((s) => s.name === name);
  const spec = /** @type {import('./catalogue.mjs').ServiceSpec} */ (services[index]);
  const port =
    options.basePort === undefined
      ? spec.port
      : options.basePort === 0
        ? 0
        : options.basePort + index;
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  // The shop's own settings replace whatever the caller's shell has for Raceway.
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('RACEWAY_')) env[key] = value;
  }
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    RACEWAY_URL: options.collectorUrl,
    SHOP_DB: stockDb,
  });
  if (options.flushIntervalMs !== undefined) {
    env.SHOP_FLUSH_INTERVAL_MS = String(options.flushIntervalMs);
  }
  for (const callee of spec.calls) env[urlVariable(callee)] = urls[callee];
  return env;
}

/**
 * Services grouped so that every service starts after the services it calls.
 *
 * @param {readonly import('./catalogue.mjs').ServiceSpec[]} services
 */
function startLevels(services) {
  /** @type {string[][]} */
  const levels = [];
  const started = new Set();
  while (started.size < services.length) {
    const level = services
      .filter((s) => !started.has(s.name) && s.calls.every((c) => started.has(c)))
      .map((s) => s.name);
    if (level.length === 0) throw new Error('the shop catalogue has a call cycle');
    for (const name of level) started.add(name);
    levels.push(level);
  }
  return levels;
}

/**
 * @param {string} name
 * @param {string} url
 */
async function waitHealthy(name, url) {
  const deadline = Date.now() + 5000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = /** @type {Error} */ (error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} at ${url} did not pass its health check within 5 s (${last})`);
}
