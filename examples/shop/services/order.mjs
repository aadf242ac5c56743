// The shop's orders: Koa, taking the items out of stock and charging through payment with fetch.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import { instrumentFetch } from '@raceway/fetch';
import { racewayMiddleware } from '@raceway/koa';
import Koa from 'koa';
import { PRODUCTS, serviceUrl } from '../src/catalogue.mjs';
import { closeHttpServer, listenHttp, runService, tracingOptions } from '../src/runtime.mjs';
import { OutOfStockError, StockStore, stockPath, takeFromStock } from '../src/stock.mjs';

instrumentFetch();

const payment = serviceUrl('payment');
const store = new StockStore(stockPath());
const app = new Koa();
app.use(racewayMiddleware(tracingOptions('order')));
app.use(bodyParser());

const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.post('/orders', async (ctx) => {
  const { sku, quantity = 1 } = /** @type {{ sku?: string, quantity?: number }} */ (
    ctx.request.body ?? {}
  );
  const product = PRODUCTS.find((p) => p.sku === sku);
  if (product === undefined) {
    ctx.status = 404;
    ctx.body = { error: 'unknown_product' };
    return;
  }
  let stock;
  try {
    stock = await takeFromStock(store, product.sku, quantity, 10);
  } catch (error) {
    if (!(error instanceof OutOfStockError)) throw error;
    ctx.status = 409;
    ctx.body = { error: 'out_of_stock', message: error.message };
    return;
  }
  const charge = await fetch(`${payment}/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amountCents: product.priceCents * quantity }),
  });
  ctx.status = 201;
  ctx.body = { id: randomUUID(), sku, quantity, stockLeft: stock, charge: await charge.json() };
});
app.use(router.routes());
app.use(router.allowedMethods());

await runService('order', async (port, host) => {
  const server = await listenHttp(createServer(app.callback()), port, host);
  return {
    server,
    close: async () => {
      await closeHttpServer(server)();
      store.close();
    },
  };
});
