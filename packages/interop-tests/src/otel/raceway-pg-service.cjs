// A service instrumented with Raceway only: the Express middleware and @raceway/pg, events to
// the collector at RACEWAY_URL. Serves POST /reserve/:id (reserve-stock.cjs) on DATABASE_URL,
// and POST /flush.
const pg = require('pg');
const { instrumentPg } = require('@raceway/pg');

instrumentPg(pg);

const express = require('express');
const { flush } = require('@raceway/core');
const { racewayMiddleware } = require('@raceway/express');
const { listen, reserveStock } = require('./reserve-stock.cjs');

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const app = express();
app.post('/flush', async (_request, response) => {
  await flush();
  response.json({ flushed: true });
});
// Service name, collector and instance come from RACEWAY_* variables.
app.use(racewayMiddleware({ flushIntervalMs: 60_000 }));
app.post('/reserve/:id', reserveStock(pool));

const server = listen(app);
process.on('SIGTERM', async () => {
  server.close();
  await Promise.all([flush(), pool.end()]);
  process.exit(0);
});
