// The accounts service: a plain node:http server (no framework), traced with the same server
// lifecycle the Express, Koa and Fastify adapters are built on.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackStateRead, trackStateWrite, withLock } from '@raceway/core';
import { createServerLifecycle } from '@raceway/core/integration';
import { KeyedMutex } from './ledger.mjs';

/**
 * @typedef {object} Transfer
 * @property {string} from
 * @property {string} to
 * @property {number} amount  in cents
 */

/**
 * The accounts service. `POST /transfers` moves money by reading each balance, checking it and
 * writing it back; two transfers from one account at the same time lose one debit.
 * `POST /transfers?lock=1` does the same under a per-account lock, recorded with `withLock`, so
 * Raceway knows the accesses are serialised and reports no race.
 *
 * @example
 * const server = createAccountsServer({ ledger, raceway: { serviceName: 'accounts' } });
 * server.listen(3100);
 *
 * @param {object} options
 * @param {import('./ledger.mjs').Ledger} options.ledger
 * @param {import('@raceway/core').RacewayOptions} options.raceway
 */
export function createAccountsServer({ ledger, raceway }) {
  const lifecycle = createServerLifecycle(raceway);
  const locks = new KeyedMutex();

  /**
   * Adds `delta` to a balance: read, check, write back.
   *
   * @param {string} account
   * @param {number} delta
   */
  async function adjust(account, delta) {
    const balance = await ledger.read(account);
    if (balance === undefined) throw new HttpError(404, `no account ${account}`);
    trackStateRead(`account:${account}`, { value: balance });
    if (balance + delta < 0) throw new HttpError(409, `insufficient funds in ${account}`);
    await sleep(5); // the fraud check between the read and the write
    await ledger.write(account, balance + delta);
    trackStateWrite(`account:${account}`, { value: balance + delta });
  }

  /**
   * @param {string} account
   * @param {number} delta
   * @param {boolean} locked
   */
  function adjustMaybeLocked(account, delta, locked) {
    if (!locked) return adjust(account, delta);
    // The lock does the serialising; withLock tells Raceway that it is held.
    return locks.run(account, () => withLock(`account:${account}`, () => adjust(account, delta)));
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://accounts');
    if (req.method === 'GET' && url.pathname === '/healthz')
      return send(res, 200, { status: 'ok' });
    const account = /^\/accounts\/([^/]+)$/.exec(url.pathname)?.[1];
    if (req.method === 'GET' && account !== undefined) {
      const balance = ledger.balances.get(decodeURIComponent(account));
      if (balance === undefined) return send(res, 404, { error: 'unknown account' });
      return send(res, 200, { account, balance });
    }
    if (req.method === 'POST' && url.pathname === '/transfers') {
      /** @type {Transfer} */
      const transfer = JSON.parse(await readBody(req));
      const locked = url.searchParams.get('lock') === '1';
      await adjustMaybeLocked(transfer.from, -transfer.amount, locked);
      await adjustMaybeLocked(transfer.to, transfer.amount, locked);
      return send(res, 201, { ...transfer, locked });
    }
    return send(res, 404, { error: 'not found' });
  }

  return createServer((req, res) => {
    const route = req.url?.startsWith('/accounts/') ? '/accounts/:id' : req.url?.split('?')[0];
    const span = lifecycle.start({ request: req, response: res, route });
    const run = () =>
      handle(req, res).catch((/** @type {unknown} */ error) => {
        span?.recordError(error);
        const status = error instanceof HttpError ? error.status : 500;
        send(res, status, { error: /** @type {Error} */ (error).message });
      });
    if (span === undefined) void run();
    else void span.run(run);
  });
}

class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<string>}
 */
async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}
