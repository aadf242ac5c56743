// The gateway: one checkout calls the order and the inventory services at once (one trace, two
// concurrent branches), or one after the other with `?sequential=1`.
import { shutdown } from '@raceway/core';
import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
import { instrumentFetch } from '@raceway/fetch';
import express from 'express';

instrumentFetch();

const orderUrl = process.env.ORDER_URL ?? 'http://127.0.0.1:3001';
const inventoryUrl = process.env.INVENTORY_URL ?? 'http://127.0.0.1:3002';
const app = express();
app.use(racewayMiddleware({ serviceName: 'gateway' }));

/** @param {string} url */
async function post(url) {
  const reply = await fetch(url, { method: 'POST' });
  return { status: reply.status, body: await reply.json() };
}

app.post('/checkout/:id', async (req, res) => {
  const mode = encodeURIComponent(String(req.query.mode ?? 'naive'));
  const id = encodeURIComponent(req.params.id);
  const order = () => post(`${orderUrl}/orders/${id}?mode=${mode}`);
  const inventory = () => post(`${inventoryUrl}/stock/${id}/reserve?mode=${mode}`);
  const replies =
    req.query.sequential === '1'
      ? [await order(), await inventory()]
      : await Promise.all([order(), inventory()]);
  const ok = replies.every((reply) => reply.status === 200);
  res.status(ok ? 200 : 502).json({ order: replies[0], inventory: replies[1] });
});

app.use(racewayErrorHandler());

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
process.on('SIGTERM', async () => {
  server.close();
  await shutdown();
  process.exit(0);
});
