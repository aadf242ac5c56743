// web.mjs: an ES module service (the .mjs extension, or "type": "module" in package.json).
import { shutdown } from '@raceway/core';
import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
import { instrumentFetch } from '@raceway/fetch';
import express from 'express';

instrumentFetch(); // once, at startup: fetch calls made while handling a request carry the trace

const apiUrl = process.env.API_URL ?? 'http://127.0.0.1:3001';
const app = express();
app.use(racewayMiddleware({ serviceName: 'web' })); // first, before the routes

app.post('/buy/:sku', async (req, res) => {
  const reply = await fetch(`${apiUrl}/stock/${req.params.sku}/take`, { method: 'POST' });
  res.status(reply.status).json(await reply.json());
});

app.use(racewayErrorHandler()); // after the routes, before your own error handlers

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
process.on('SIGTERM', async () => {
  server.close();
  await shutdown(); // sends what is still queued; Raceway installs no signal handlers itself
  process.exit(0);
});
