// The order service: takes one unit of a product's stock for an order.
import { shutdown } from '@raceway/core';
import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
import express from 'express';
import { openDb } from '../src/db.mjs';
import { takeOne } from '../src/stock.mjs';

const db = openDb(process.env.DATABASE ?? 'sqlite:shop.db');
const app = express();
app.use(racewayMiddleware({ serviceName: 'order' }));

app.post('/orders/:id', async (req, res) => {
  const mode = String(req.query.mode ?? process.env.MODE ?? 'naive');
  const retries = await takeOne(db, mode, Number(req.params.id), 'stock');
  res.json({ service: 'order', mode, retries: retries ?? 0 });
});

app.use(racewayErrorHandler());
/**
 * @param {Error} error
 * @param {import('express').Request} _req
 * @param {import('express').Response} res
 * @param {import('express').NextFunction} _next
 */
function sendError(error, _req, res, _next) {
  res.status(500).json({ error: error.message });
}
app.use(sendError);

const server = app.listen(Number(process.env.PORT ?? 3001), '127.0.0.1');
process.on('SIGTERM', async () => {
  server.close();
  await shutdown();
  await db.close();
  process.exit(0);
});
