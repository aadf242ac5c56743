// The shop's payment provider: Express, and the slowest service of the shop.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
import express from 'express';
import { closeHttpServer, listenHttp, runService, tracingOptions, work } from '../src/runtime.mjs';

const app = express();
app.use(racewayMiddleware(tracingOptions('payment')));
app.use(express.json());

app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});

app.post('/charges', async (req, res) => {
  await work(150); // the card network: the slowest step by far, so that it leads the critical path
  res
    .status(201)
    .json({ id: randomUUID(), amountCents: req.body?.amountCents, status: 'captured' });
});

app.use(racewayErrorHandler());

await runService('payment', async (port, host) => {
  const server = await listenHttp(createServer(app), port, host);
  return { server, close: closeHttpServer(server) };
});
