// A Node service instrumented with OpenTelemetry only (no Raceway): @opentelemetry/sdk-node
// with the http instrumentation, and the OTLP/HTTP exporter to the collector's POST /v1/traces
// (OTEL_PROTOCOL=proto or json). It speaks the interop services' protocol
// (../shared/foreign-service.ts): prints {"url"} once it listens, serves /chain?next=URL (calls
// `next` if given) and POST /flush (exports what the span processor holds).
// CommonJS on purpose: the http instrumentation patches `http` as it is required, after the SDK
// has started.
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const service = process.env.RACEWAY_SERVICE_NAME || 'otel-service';
const protocol = process.env.OTEL_PROTOCOL || 'proto';
const { OTLPTraceExporter } =
  protocol === 'json'
    ? require('@opentelemetry/exporter-trace-otlp-http')
    : require('@opentelemetry/exporter-trace-otlp-proto');
const spans = new BatchSpanProcessor(
  new OTLPTraceExporter({ url: `${process.env.RACEWAY_URL}/v1/traces` }),
);
const sdk = new NodeSDK({
  resource: resourceFromAttributes({
    'service.name': service,
    'service.instance.id': process.env.RACEWAY_INSTANCE || `${service}-1`,
  }),
  spanProcessors: [spans],
  instrumentations: [
    new HttpInstrumentation({
      // The test harness' own flush calls are not part of any trace.
      ignoreIncomingRequestHook: (request) => request.url === '/flush',
    }),
  ],
});
sdk.start();

const http = require('node:http');

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode, body }));
      })
      .on('error', reject);
  });
}

const server = http.createServer(async (request, response) => {
  const url = new URL(request.url, 'http://localhost');
  if (request.method === 'POST' && url.pathname === '/flush') {
    await spans.forceFlush();
    response.setHeader('content-type', 'application/json');
    response.end('{"flushed":true}');
    return;
  }
  if (url.pathname === '/chain') {
    const next = url.searchParams.get('next');
    let downstream = null;
    if (next) {
      const answer = await get(next);
      downstream = JSON.parse(answer.body);
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ service, downstream }));
    return;
  }
  response.statusCode = 404;
  response.end();
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', async () => {
  server.close();
  await sdk.shutdown();
  process.exit(0);
});
