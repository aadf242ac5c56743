// One Node process with both SDKs: OpenTelemetry's NodeSDK (the http and undici
// instrumentations, OTLP/HTTP JSON to OTLP_RECEIVER_URL) and Raceway (the Express middleware and
// instrumentFetch, events to RACEWAY_URL). It speaks the interop services' protocol
// (../shared/foreign-service.ts): prints {"url"} once it listens, serves /chain?next=URL (calls
// `next` with global fetch) and POST /flush (both SDKs send what they hold).
// CommonJS on purpose, and OpenTelemetry first, as its documentation asks: its instrumentations
// patch modules as they are required and subscribe to undici's channels before Raceway does.
// RACEWAY_FIRST=1 calls instrumentFetch() before OpenTelemetry starts instead (the wrong order).
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');

if (process.env.RACEWAY_FIRST === '1') require('@raceway/fetch').instrumentFetch();

const spans = new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_RECEIVER_URL }));
const sdk = new NodeSDK({
  serviceName: process.env.RACEWAY_SERVICE_NAME,
  spanProcessors: [spans],
  instrumentations: [
    new HttpInstrumentation({
      // The test harness' own flush calls are not part of any trace.
      ignoreIncomingRequestHook: (request) => request.url === '/flush',
    }),
    new UndiciInstrumentation(),
  ],
});
sdk.start();

const express = require('express');
const { flush } = require('@raceway/core');
const { racewayMiddleware } = require('@raceway/express');
const { instrumentFetch } = require('@raceway/fetch');

const service = process.env.RACEWAY_SERVICE_NAME;
if (process.env.RACEWAY_FIRST !== '1') instrumentFetch();
const app = express();
app.post('/flush', async (_request, response) => {
  await Promise.all([spans.forceFlush(), flush()]);
  response.json({ flushed: true });
});
// Service name, collector and instance come from RACEWAY_* variables.
app.use(racewayMiddleware({ flushIntervalMs: 60_000 }));
app.get('/chain', async (request, response, next) => {
  try {
    const target = typeof request.query.next === 'string' ? request.query.next : undefined;
    const downstream = target === undefined ? null : await (await fetch(target)).json();
    response.json({ service, downstream });
  } catch (error) {
    next(error);
  }
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', async () => {
  server.close();
  await Promise.all([sdk.shutdown(), flush()]);
  process.exit(0);
});
