import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { startChild } from './child-process.mjs';

/**
 * The `raceway` executable of the installed `@raceway/collector`.
 *
 * @returns {string}
 */
export function racewayBin() {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('@raceway/collector/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  return join(dirname(manifestPath), manifest.bin.raceway);
}

/**
 * @typedef {object} CollectorProcess
 * @property {string} url          e.g. http://127.0.0.1:8080
 * @property {string} banner       its start-up line (address, storage, retention)
 * @property {import('./child-process.mjs').Child} child
 * @property {() => Promise<number | null>} stop  SIGTERM: finishes requests, closes storage
 */

/**
 * Runs `raceway serve` as a child process, as a user would, and resolves once it listens.
 * Rejects with the collector's own message when it cannot start (port in use, bad storage).
 *
 * @example
 * const collector = await startCollectorProcess({ port: 0, storage: 'sqlite:/tmp/raceway.db' });
 * console.log(collector.url);
 * await collector.stop();
 *
 * @param {object} options
 * @param {number} options.port             0 for a free port
 * @param {string} options.storage          `sqlite:<path>` or `postgres://...`
 * @param {number} [options.analysisDelayMs] analyse a trace once quiet this long
 * @returns {Promise<CollectorProcess>}
 */
export async function startCollectorProcess({ port, storage, analysisDelayMs }) {
  const args = ['serve', '--port', String(port), '--host', '127.0.0.1', '--storage', storage];
  if (analysisDelayMs !== undefined) args.push('--analysis-delay', String(analysisDelayMs));
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('RACEWAY_')) env[key] = value;
  }
  const { child, match } = await startChild({
    name: 'raceway collector',
    script: racewayBin(),
    args,
    env,
    ready: /^raceway collector .* listening on (http:\/\/\S+).*$/,
  });
  return {
    url: /** @type {string} */ (match[1]),
    banner: match[0] ?? '',
    child,
    stop: () => child.stop(),
  };
}
