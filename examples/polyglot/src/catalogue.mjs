// The polyglot shop: the example shop's six services and an audit log, spread over the four
// SDKs so that every server and client integration is used at least once, each in its
// language's usual framework. The launcher, the demo and the end-to-end test read this table.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { serviceUrl as shopServiceUrl } from '@raceway/example-shop/src/catalogue.mjs';

const here = (/** @type {string} */ path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** Where scripts/build.sh puts what each language needs. */
export const BUILT = Object.freeze({
  python: here('.venv/bin/python'),
  go: here('.build/auth'),
  // The SDK's target directory, shared so that the dependency tree is compiled once.
  rust: here('../../sdks/rust/target/debug/polyglot-order'),
});

/**
 * @typedef {import('@raceway/example-shop/src/catalogue.mjs').ServiceSpec & {
 *   language: string,
 *   framework: string,
 *   run: import('@raceway/example-shop/src/launch.mjs').ServiceCommand,
 * }} PolyglotService
 */

/**
 * @param {Omit<PolyglotService, 'stack'>} service
 * @returns {PolyglotService}
 */
function service(service) {
  return { ...service, stack: `${service.language.padEnd(10)} ${service.framework}` };
}

/** @type {readonly PolyglotService[]} */
export const SERVICES = Object.freeze([
  service({
    name: 'frontend',
    port: 3000,
    language: 'TypeScript',
    framework: 'Express + fetch',
    calls: ['api'],
    // The TypeScript shop's own frontend, unchanged: it neither knows nor cares what the api
    // behind it is written in.
    run: {
      script: createRequire(import.meta.url).resolve('@raceway/example-shop/services/frontend.mjs'),
    },
  }),
  service({
    name: 'api',
    port: 3001,
    language: 'Python',
    framework: 'FastAPI + httpx',
    calls: ['auth', 'order', 'inventory'],
    run: { command: BUILT.python, script: here('services/api-python/app.py') },
  }),
  service({
    name: 'auth',
    port: 3002,
    language: 'Go',
    framework: 'net/http + http.Client',
    calls: ['audit'],
    run: { command: BUILT.go },
  }),
  service({
    name: 'order',
    port: 3003,
    language: 'Rust',
    framework: 'axum + reqwest + rusqlite',
    calls: ['payment'],
    run: { command: BUILT.rust },
  }),
  service({
    name: 'payment',
    port: 3004,
    language: 'TypeScript',
    framework: 'Fastify + axios',
    calls: ['audit'],
    run: { script: here('services/payment-ts/server.mjs') },
  }),
  service({
    name: 'inventory',
    port: 3005,
    language: 'Python',
    framework: 'Flask + requests + sqlite3',
    calls: ['audit'],
    run: { command: BUILT.python, script: here('services/inventory-python/app.py') },
  }),
  service({
    name: 'audit',
    port: 3006,
    language: 'TypeScript',
    framework: 'Koa',
    calls: [],
    // Called by auth (Go), payment (TypeScript) and inventory (Python): the three client
    // integrations that the calls above leave out.
    run: { script: here('services/audit-ts/server.mjs') },
  }),
]);

/**
 * The base URL of a polyglot service as its callers see it (see the shop's `serviceUrl`).
 *
 * @param {string} name
 */
export function serviceUrl(name) {
  return shopServiceUrl(name, process.env, SERVICES);
}
