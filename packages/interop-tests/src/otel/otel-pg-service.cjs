// A service instrumented with OpenTelemetry only: NodeSDK with its http and pg
// instrumentations, exporting OTLP/HTTP protobuf to the Raceway collector at RACEWAY_URL
// (/v1/traces). Serves POST /reserve/:id (reserve-stock.cjs) on DATABASE_URL, and POST /flush.
// CommonJS, and OpenTelemetry first: its instrumentations patch pg and http as they are required.
// enhancedDatabaseReporting records the statements' parameter values (`db.postgresql.values`):
// the statements are parameterized ($1), and without the values the collector cannot tell
// which row they touch. The collector keeps digests of them, as Raceway's drivers send.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const spans = new BatchSpanProcessor(
  new OTLPTraceExporter({ url: `${process.env.RACEWAY_URL}/v1/traces` }),
);
const sdk = new NodeSDK({
  serviceName: process.env.RACEWAY_SERVICE_NAME,
  spanProcessors: [spans],
  instrumentations: [
    new HttpInstrumentation({
      // The test harness' own flush calls are not part of any trace.
      ignoreIncomingRequestHook: (request) => request.url === '/flush',
    }),
    new PgInstrumentation({ enhancedDatabaseReporting: true }),
  ],
});
sdk.start();

const express = require('express');
const pg = require('pg');
const { listen, reserveStock } = require('./reserve-stock.cjs');

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const app = express();
app.post('/flush', async (_request, response) => {
  await spans.forceFlush();
  response.json({ flushed: true });
});
app.post('/reserve/:id', reserveStock(pool));

const server = listen(app);
process.on('SIGTERM', async () => {
  server.close();
  await Promise.all([sdk.shutdown(), pool.end()]);
  process.exit(0);
});
