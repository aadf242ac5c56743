// The shop's web front: Express, calling the api with global fetch.
import { createServer } from 'node:http';
import { racewayErrorHandler, racewayMiddleware } from '@raceway/express';
import { instrumentFetch } from '@raceway/fetch';
import express from 'express';
import { DEMO_TOKEN, serviceUrl } from '../src/catalogue.mjs';
import { closeHttpServer, listenHttp, runService, tracingOptions, work } from '../src/runtime.mjs';

instrumentFetch();

const api = serviceUrl('api');
const app = express();
app.use(racewayMiddleware(tracingOptions('frontend')));
app.use(express.json());

app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});

/**
 * Calls the api with the visitor's token (or the demo's) and answers with what it said.
 *
 * @param {import('express').Request} req
 * @param {import('express').Response} res
 * @param {string} path
 * @param {RequestInit} [init]
 */
async function forward(req, res, path, init = {}) {
  const response = await fetch(`${api}${path}`, {
    ...init,
    headers: {
      'content-type': 'application/json',
      authorization: req.get('authorization') ?? `Bearer ${DEMO_TOKEN}`,
    },
  });
  const body = await response.json();
  await work(3); // rendering the page
  res.status(response.status).json(body);
}

app.get('/', (req, res) => forward(req, res, '/products'));

app.get('/products/:sku', (req, res) =>
  forward(req, res, `/products/${encodeURIComponent(req.params.sku)}`),
);

// ?mode=sequential asks the api to call order and inventory one after the other.
app.post('/checkout', (req, res) => {
  const mode = req.query.mode === 'sequential' ? '?mode=sequential' : '';
  return forward(req, res, `/checkout${mode}`, {
    method: 'POST',
    body: JSON.stringify({ sku: req.body?.sku ?? 'mug', quantity: req.body?.quantity ?? 1 }),
  });
});

app.use(racewayErrorHandler());
app.use(
  /**
   * @param {Error} error
   * @param {import('express').Request} _req
   * @param {import('express').Response} res
   * @param {import('express').NextFunction} _next
   */
  (error, _req, res, _next) => {
    res.status(502).json({ error: 'upstream_failed', message: error.message });
  },
);

await runService('frontend', async (port, host) => {
  const server = await listenHttp(createServer(app), port, host);
  return { server, close: closeHttpServer(server) };
});
