// One variant of the hello-world Express app measured by http-overhead.mjs, in a process of its
// own: `bare`, `context-only` (an AsyncLocalStorage context per request, nothing else), `raceway`
// (@raceway/express, events exported to the sink), `raceway-sampled` (the same with
// `sampleRate: 0.1`), `minimal` (the lower bound of
// minimal-tracer.cjs) or `otel` (OpenTelemetry's Node tracer with the http and express instrumentations,
// BatchSpanProcessor, OTLP/HTTP exporter to the sink). CommonJS on purpose: OpenTelemetry
// instruments express through require hooks, which must be in place before express is loaded.
//
//   node bench/http-overhead-app.cjs <bare|context-only|raceway|raceway-sampled|minimal|otel> <sink url>
//
// Prints `listening on <url>`; on SIGTERM flushes, prints one `stats <json>` line and exits.
const { createServer } = require('node:http');

const [variant, sinkUrl] = process.argv.slice(2);
let shutdown = async () => ({});

if (variant === 'otel') {
  const { BatchSpanProcessor, NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench' }),
    // Default batching (queue 2048, batches of 512, every 5 s), as a user gets it.
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sinkUrl}/v1/traces` })),
    ],
  });
  provider.register();
  registerInstrumentations({
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
  });
  shutdown = async () => {
    await provider.shutdown();
    return {};
  };
}

const express = require('express');
const app = express();

if (variant === 'raceway' || variant === 'raceway-sampled') {
  const { Tracer } = require('@raceway/core');
  const { racewayMiddleware } = require('@raceway/express');
  // The defaults a user gets (batches of 200, every 1 s, no gzip to a collector on loopback);
  // `raceway-sampled` records one new trace in ten.
  const options = { serviceName: variant, serverUrl: sinkUrl };
  if (variant === 'raceway-sampled') options.sampleRate = 0.1;
  app.use(racewayMiddleware(options));
  shutdown = async () => {
    const tracer = Tracer.fromOptions(options);
    await tracer.shutdown();
    return tracer.transport.stats();
  };
}

if (variant === 'context-only') {
  const { AsyncLocalStorage } = require('node:async_hooks');
  const storage = new AsyncLocalStorage();
  app.use((_req, _res, next) => storage.run({}, next));
}

if (variant === 'minimal') {
  const { minimalTracerMiddleware } = require('./minimal-tracer.cjs');
  app.use(minimalTracerMiddleware(variant, sinkUrl));
}

app.get('/', (_req, res) => {
  res.send('hello world');
});

const server = createServer(app);
// CPU time per request of this process (main thread and libuv pool: gzip included), counted from
// SIGUSR2 (sent when the measured run starts) to SIGTERM.
let requests = 0;
let cpuFrom = process.cpuUsage();
server.on('request', () => {
  requests += 1;
});
process.on('SIGUSR2', () => {
  requests = 0;
  cpuFrom = process.cpuUsage();
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.once('SIGTERM', () => {
  const cpu = process.cpuUsage(cpuFrom);
  const cpuUsPerRequest = (cpu.user + cpu.system) / Math.max(1, requests);
  server.close();
  server.closeAllConnections();
  shutdown().then(
    (stats) => {
      console.log(`stats ${JSON.stringify({ cpuUsPerRequest, requests, ...stats })}`);
      process.exit(0);
    },
    (error) => {
      console.log(`stats ${JSON.stringify({ cpuUsPerRequest, requests, error: String(error) })}`);
      process.exit(0);
    },
  );
});
