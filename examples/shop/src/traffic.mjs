// The shop's customers: plain, untraced HTTP calls to the frontend, so that every visit starts a
// new trace there, as a browser's would.

/**
 * @typedef {object} Visit
 * @property {string} what      e.g. `checkout` or `browse`
 * @property {number} status
 * @property {string | null} traceId  the trace the frontend started (`X-Raceway-Trace-Id`)
 * @property {unknown} body
 */

/**
 * One checkout through the frontend.
 *
 * @param {string} frontendUrl
 * @param {{ sku?: string, quantity?: number, mode?: 'concurrent' | 'sequential' }} [order]
 * @returns {Promise<Visit>}
 */
export async function checkout(frontendUrl, { sku = 'mug', quantity = 1, mode } = {}) {
  const query = mode === 'sequential' ? '?mode=sequential' : '';
  const response = await fetch(`${frontendUrl}/checkout${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sku, quantity }),
  });
  return visit(mode === 'sequential' ? 'sequential checkout' : 'checkout', response);
}

/**
 * The checkouts the end-to-end tests read back: first a warm-up, on a product of its own so
 * that it touches neither of the others (every service's first request loads code paths and
 * opens connections), then one checkout of mug calling order and inventory at once, and one
 * of tee calling them one after the other. Throws when the warm-up is not answered 201.
 *
 * @param {string} frontendUrl
 * @returns {Promise<{ concurrent: Visit, sequential: Visit }>}
 */
export async function testCheckouts(frontendUrl) {
  const warmUp = await checkout(frontendUrl, { sku: 'cap', mode: 'sequential' });
  if (warmUp.status !== 201) {
    throw new Error(
      `the warm-up checkout answered ${warmUp.status}: ${JSON.stringify(warmUp.body)}`,
    );
  }
  const concurrent = await checkout(frontendUrl, { sku: 'mug' });
  const sequential = await checkout(frontendUrl, { sku: 'tee', mode: 'sequential' });
  return { concurrent, sequential };
}

/**
 * One look at the catalogue (`/`) or at one product.
 *
 * @param {string} frontendUrl
 * @param {string} [sku]
 * @returns {Promise<Visit>}
 */
export async function browse(frontendUrl, sku) {
  const path = sku === undefined ? '/' : `/products/${encodeURIComponent(sku)}`;
  return visit('browse', await fetch(`${frontendUrl}${path}`));
}

/**
 * Reads one product's stock straight from the frontend (a browse, so it is traced too).
 *
 * @param {string} frontendUrl
 * @param {string} sku
 * @returns {Promise<number>}
 */
export async function stockOf(frontendUrl, sku) {
  const { body } = await browse(frontendUrl, sku);
  return /** @type {{ stock: number }} */ (body).stock;
}

/**
 * @typedef {object} DemoTraffic
 * @property {Visit[]} checkouts          one after another, order and inventory called at once
 * @property {Visit[]} sequentialCheckouts one after another, order then inventory
 * @property {Visit[]} burst              all at once
 * @property {Visit[]} browsing
 * @property {number} itemsOrdered        how many mugs checkouts took (each takes 2: order and reservation)
 */

/**
 * The demo's traffic: some browsing, checkouts one after another (each with the intra-request
 * race), checkouts in sequential mode (no race), and a burst of simultaneous checkouts (races
 * across requests). Every checkout buys one mug.
 *
 * @param {string} frontendUrl
 * @param {{ checkouts?: number, sequential?: number, burst?: number }} [counts]
 * @returns {Promise<DemoTraffic>}
 */
export async function driveDemoTraffic(frontendUrl, counts = {}) {
  const browsing = [];
  browsing.push(await browse(frontendUrl));
  for (const sku of ['mug', 'tee', 'cap']) browsing.push(await browse(frontendUrl, sku));

  const checkouts = [];
  for (let i = 0; i < (counts.checkouts ?? 4); i += 1) checkouts.push(await checkout(frontendUrl));

  const sequentialCheckouts = [];
  for (let i = 0; i < (counts.sequential ?? 2); i += 1) {
    sequentialCheckouts.push(await checkout(frontendUrl, { mode: 'sequential' }));
  }

  const burst = await Promise.all(
    Array.from({ length: counts.burst ?? 8 }, () => checkout(frontendUrl)),
  );
  browsing.push(await browse(frontendUrl));

  const all = [...checkouts, ...sequentialCheckouts, ...burst, ...browsing];
  const failed = all.filter((v) => v.status >= 400);
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} of ${all.length} requests to the shop failed, e.g. ${failed[0]?.what}: HTTP ${failed[0]?.status} ${JSON.stringify(failed[0]?.body)}`,
    );
  }
  const placed = checkouts.length + sequentialCheckouts.length + burst.length;
  return { checkouts, sequentialCheckouts, burst, browsing, itemsOrdered: placed * 2 };
}

/**
 * @param {string} what
 * @param {Response} response
 * @returns {Promise<Visit>}
 */
async function visit(what, response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return {
    what,
    status: response.status,
    traceId: response.headers.get('x-raceway-trace-id'),
    body,
  };
}
