import { existsSync } from 'node:fs';
import { startShop } from '@raceway/example-shop/src/launch.mjs';
import { BUILT, SERVICES } from './catalogue.mjs';

/**
 * Starts the seven services of the polyglot shop as processes (Node.js, Python, a Go binary, a
 * Rust binary) with the TypeScript shop's launcher: callees first, each given its callees'
 * URLs, resolved once every one answers its health check.
 *
 * @param {Omit<import('@raceway/example-shop/src/launch.mjs').ShopOptions, 'services' | 'command'>} options
 * @returns {Promise<import('@raceway/example-shop/src/launch.mjs').RunningShop>}
 */
export function startPolyglotShop(options) {
  const missing = Object.values(BUILT).filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(
      `not built: ${missing.join(', ')}; run \`bash examples/polyglot/scripts/build.sh\``,
    );
  }
  return startShop({
    ...options,
    services: SERVICES,
    command: (name) =>
      /** @type {import('./catalogue.mjs').PolyglotService} */ (
        SERVICES.find((s) => s.name === name)
      ).run,
  });
}
