// The inventory service: reserves one unit of a product (in the column-disjoint mode it keeps
// its own count, `reserved`, instead of taking from `stock`).
import { shutdown } from '@raceway/core';
import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
import express from 'express';
import { openDb } from '../src/db.mjs';
import { takeOne } from '../src/stock.mjs';

const db = openDb(process.env.DATABASE ?? 'sqlite:shop.db');
const app = express();
app.use(racewayMiddleware({ serviceName: 'inventory' }));

app.post('/stock/:id/reserve', async (req, res) => {
  const mode = String(req.query.mode ?? process.env.MODE ?? 'naive');
  const retries = await takeOne(db, mode, Number(req.params.id), 'reserved');
  res.json({ service: 'inventory', mode, retries: retries ?? 0 });
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

const server = app.listen(Number(process.env.PORT ?? 3002), '127.0.0.1');
process.on('SIGTERM', async () => {
  server.close();
  await shutdown();
  await db.close();
  process.exit(0);
});
