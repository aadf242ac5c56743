import { setTimeout as sleep } from 'node:timers/promises';
import { Tracer } from '@raceway/core';
import { serviceSpec } from './catalogue.mjs';

/**
 * The Raceway options of a shop service. The collector URL comes from `RACEWAY_URL`; the demo
 * shortens the flush interval with `SHOP_FLUSH_INTERVAL_MS` so that its summary is quick.
 *
 * @param {string} name
 * @returns {import('@raceway/core').RacewayOptions}
 */
export function tracingOptions(name) {
  const flush = Number(process.env.SHOP_FLUSH_INTERVAL_MS);
  // The shop's product codes are no secret: its services send query parameters' raw values
  // beside their digests, so that races and histories name the product (`sku="mug"`).
  // Without this option, no parameter value leaves a service.
  const options = { serviceName: name, captureValues: true };
  return Number.isInteger(flush) && flush > 0 ? { ...options, flushIntervalMs: flush } : options;
}

/**
 * Waits about `ms` milliseconds (plus or minus 20 %): the work a real service would do.
 *
 * @param {number} ms
 */
export function work(ms) {
  return sleep(ms * (0.8 + Math.random() * 0.4));
}

/**
 * @typedef {object} Listening
 * @property {import('node:net').Server} server  the listening server
 * @property {() => Promise<void>} close          stops taking requests, finishes those in flight
 */

/**
 * Runs a shop service: listens on `PORT` (default: the catalogue's) and `HOST` (default
 * 127.0.0.1), prints `<name> listening on <url>` once it accepts connections (the launcher
 * waits for that line), and on SIGTERM or SIGINT stops taking requests, flushes the events
 * still queued for the collector, and exits.
 *
 * @param {string} name
 * @param {(port: number, host: string) => Promise<Listening>} listen
 * @param {readonly import('./catalogue.mjs').ServiceSpec[]} [services]  another shop's catalogue
 */
export async function runService(name, listen, services) {
  const port =
    process.env.PORT === undefined ? serviceSpec(name, services).port : Number(process.env.PORT);
  const host = process.env.HOST ?? '127.0.0.1';
  /** @type {Listening} */
  let listening;
  try {
    listening = await listen(port, host);
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    const reason =
      code === 'EADDRINUSE'
        ? `port ${port} is already in use (set PORT to another one)`
        : /** @type {Error} */ (error).message;
    process.stderr.write(`${name}: cannot listen on ${host}:${port}: ${reason}\n`);
    process.exit(1);
  }
  const address = listening.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  process.stdout.write(`${name} listening on http://${host}:${bound}\n`);

  let stopping = false;
  /** @param {NodeJS.Signals} signal */
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    await listening.close().catch(() => {});
    // Raceway never installs signal handlers: flushing on a signal is the application's job.
    await Tracer.fromOptions(tracingOptions(name)).shutdown();
    process.stdout.write(`${name} stopped (${signal})\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * `close()` for a node:http server: stops accepting, closes idle keep-alive connections, and
 * resolves once the requests in flight are answered.
 *
 * @param {import('node:http').Server} server
 * @returns {() => Promise<void>}
 */
export function closeHttpServer(server) {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
}

/**
 * Resolves with the server once it listens, rejects with the listen error (EADDRINUSE).
 *
 * @param {import('node:http').Server} server
 * @param {number} port
 * @param {string} host
 * @returns {Promise<import('node:http').Server>}
 */
export function listenHttp(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
