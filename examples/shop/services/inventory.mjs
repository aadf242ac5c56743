// The shop's inventory: Fastify, reserving stock in the same database row as order.
import { racewayPlugin } from '@raceway/fastify';
import Fastify from 'fastify';
import { runService, tracingOptions, work } from '../src/runtime.mjs';
import { OutOfStockError, StockStore, stockPath, takeFromStock } from '../src/stock.mjs';

const store = new StockStore(stockPath());
const app = Fastify();
await app.register(racewayPlugin, tracingOptions('inventory'));

app.get('/healthz', async () => ({ status: 'ok' }));

app.get('/items', async () => {
  await work(4);
  return store.list();
});

app.get('/items/:sku', async (request, reply) => {
  const { sku } = /** @type {{ sku: string }} */ (request.params);
  await work(2);
  const product = store.get(sku);
  if (product === undefined) return reply.code(404).send({ error: 'unknown_product' });
  return product;
});

app.post('/reservations', async (request, reply) => {
  const { sku = '', quantity = 1 } = /** @type {{ sku?: string, quantity?: number }} */ (
    request.body ?? {}
  );
  try {
    const stock = await takeFromStock(store, sku, quantity, 8);
    if (stock === undefined) return reply.code(404).send({ error: 'unknown_product' });
    return reply.code(201).send({ sku, quantity, stockLeft: stock });
  } catch (error) {
    if (!(error instanceof OutOfStockError)) throw error;
    return reply.code(409).send({ error: 'out_of_stock', message: error.message });
  }
});

await runService('inventory', async (port, host) => {
  await app.listen({ port, host });
  return {
    server: app.server,
    close: async () => {
      await app.close();
      store.close();
    },
  };
});
