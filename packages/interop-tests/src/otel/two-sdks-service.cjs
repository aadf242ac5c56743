// One Node process with both SDKs: OpenTelemetry's NodeSDK (the http and undici
// instrumentations, OTLP/HTTP JSON to OTLP_RECEIVER_URL) and Raceway (the Express middleware and
// one client instrumentation, events to RACEWAY_URL). It speaks the interop services' protocol
// (../shared/foreign-service.ts): prints {"url"} once it listens, serves /chain?next=URL (calls
// `next` with the client CLIENT names) and POST /flush (both SDKs send what they hold).
// CLIENT is `fetch` (global fetch, instrumentFetch; the default), `http` (node's http.request,
// instrumentHttp), `axios` (axios' node:http adapter, instrumentAxios) or `axios+http` (axios,
// with instrumentHttp too: the call is recorded once).
// CommonJS on purpose, and OpenTelemetry first, as its documentation asks: its instrumentations
// patch modules as they are required and subscribe to undici's channels before Raceway does.
// RACEWAY_FIRST=1 calls instrumentFetch() before OpenTelemetry starts instead (the wrong order).
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const client = process.env.CLIENT ?? 'fetch';
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

const service = process.env.RACEWAY_SERVICE_NAME;
const getJson = clientGetJson(client);

/** A GET that answers the body as JSON, made with `client`, whose Raceway instrumentation is on. */
function clientGetJson(name) {
  if (name === 'fetch') {
    if (process.env.RACEWAY_FIRST !== '1') require('@raceway/fetch').instrumentFetch();
    return async (url) => (await fetch(url)).json();
  }
  if (name === 'http') {
    require('@raceway/http').instrumentHttp();
    const http = require('node:http');
    return (url) =>
      new Promise((resolve, reject) => {
        http
          .get(url, (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk) => {
              body += chunk;
            });
            response.on('end', () => resolve(JSON.parse(body)));
            response.on('error', reject);
          })
          .on('error', reject);
      });
  }
  if (name === 'axios' || name === 'axios+http') {
    const axios = require('axios');
    require('@raceway/axios').instrumentAxios(axios);
    if (name === 'axios+http') require('@raceway/http').instrumentHttp();
    return async (url) => (await axios.get(url, { adapter: 'http' })).data;
  }
  throw new Error(`CLIENT=${name}: expected fetch, http, axios or axios+http`);
}
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
    const downstream = target === undefined ? null : await getJson(target);
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
