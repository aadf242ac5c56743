// The shop's services, where each one listens by default, and whom each one calls. The
// launcher, the services and the demo all read this one table.

/**
 * @typedef {object} ServiceSpec
 * @property {string} name      service name, also the Raceway service name
 * @property {number} port      default port (the `PORT` environment variable overrides it)
 * @property {string} stack     what it is built with, for people reading the demo
 * @property {string[]} calls   services it calls (their URLs come from `<NAME>_URL`)
 */

/** @type {readonly ServiceSpec[]} */
export const SERVICES = Object.freeze([
  { name: 'frontend', port: 3000, stack: 'Express + fetch', calls: ['api'] },
  { name: 'api', port: 3001, stack: 'Fastify + axios', calls: ['auth', 'order', 'inventory'] },
  { name: 'auth', port: 3002, stack: 'Koa', calls: [] },
  { name: 'order', port: 3003, stack: 'Koa + fetch', calls: ['payment'] },
  { name: 'payment', port: 3004, stack: 'Express', calls: [] },
  { name: 'inventory', port: 3005, stack: 'Fastify', calls: [] },
]);

/** What the shop sells, with the stock the database starts with. */
export const PRODUCTS = Object.freeze([
  { sku: 'mug', name: 'Raceway mug', priceCents: 1200, stock: 10_000 },
  { sku: 'tee', name: 'Raceway tee-shirt', priceCents: 2500, stock: 10_000 },
  { sku: 'cap', name: 'Raceway cap', priceCents: 1800, stock: 10_000 },
]);

/** The bearer token the auth service accepts. */
export const DEMO_TOKEN = 'demo-token';

/**
 * The catalogue entry of a service; throws for a name the shop does not have.
 *
 * @param {string} name
 * @param {readonly ServiceSpec[]} [services]  another shop's catalogue (the polyglot shop's)
 * @returns {ServiceSpec}
 */
export function serviceSpec(name, services = SERVICES) {
  const spec = services.find((s) => s.name === name);
  if (spec === undefined) throw new Error(`the shop has no service "${name}"`);
  return spec;
}

/**
 * The environment variable that holds a service's base URL, e.g. `ORDER_URL`.
 *
 * @param {string} name
 */
export function urlVariable(name) {
  return `${name.toUpperCase()}_URL`;
}

/**
 * The base URL of a service as its callers see it: `<NAME>_URL`, or its default port on
 * 127.0.0.1.
 *
 * @param {string} name
 * @param {Record<string, string | undefined>} [env]
 * @param {readonly ServiceSpec[]} [services]  another shop's catalogue (the polyglot shop's)
 */
export function serviceUrl(name, env = process.env, services = SERVICES) {
  return env[urlVariable(name)] ?? `http://127.0.0.1:${serviceSpec(name, services).port}`;
}
