// One variant of the hello-world Express app measured by http-overhead.mjs, in a process of its
// own: `bare`, `context-only` (an AsyncLocalStorage context per request, nothing else), `raceway`
// (@raceway/express, events exported to the sink), `raceway-sampled` (the same with
// `sampleRate: 0.1`), `raceway-unsampled` (`sampleRate: 0`), `ctx-<suspect>` (context-only plus
// one suspect of the SDK's cost, see below), `minimal` (the lower bound of
// minimal-tracer.cjs) or `otel` (OpenTelemetry's Node tracer with the http and express instrumentations,
// BatchSpanProcessor, OTLP/HTTP exporter to the sink). CommonJS on purpose: OpenTelemetry
// instruments express through require hooks, which must be in place before express is loaded.
//
//   node bench/http-overhead-app.cjs <bare|context-only|ctx-<suspect>|raceway|raceway-sampled|minimal|otel> <sink url>
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

if (variant === 'raceway' || variant === 'raceway-sampled' || variant === 'raceway-unsampled') {
  const { Tracer } = require('@raceway/core');
  const { racewayMiddleware } = require('@raceway/express');
  // The defaults a user gets (batches of 200, every 1 s, no gzip to a collector on loopback);
  // `raceway-sampled` records one new trace in ten.
  const options = { serviceName: variant, serverUrl: sinkUrl };
  if (variant === 'raceway-sampled') options.sampleRate = 0.1;
  // `raceway-unsampled` records nothing: what a request costs that is never sampled.
  if (variant === 'raceway-unsampled') options.sampleRate = 0;
  // The instructions bench runs the app under valgrind, about 40 times slower: with the 1 s
  // timer, a sampled tenth would go out in batches of a few events, each paying a whole POST.
  // It stretches the timer so batches fill to the size they reach at full speed.
  const flushIntervalMs = Number(process.env.RACEWAY_BENCH_FLUSH_INTERVAL_MS);
  if (flushIntervalMs > 0) options.flushIntervalMs = flushIntervalMs;
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

// The suspects behind the cost of an unsampled request, each alone on top of `context-only`
// (the same AsyncLocalStorage context per request), so that one run splits the cost by cause.
// Each copies what the SDK did per request or per process, nothing more.
if (variant.startsWith('ctx-')) {
  const { AsyncLocalStorage } = require('node:async_hooks');
  const http = require('node:http');
  const storage = new AsyncLocalStorage();
  const suspect = variant.slice('ctx-'.length);
  const bySocket = new WeakMap();
  // What the suspect does per request, inside the one middleware (no extra Express layer).
  let perRequest = (_req, _res) => {};
  if (suspect === 'writehead-patch') {
    // A wrapper of ServerResponse.prototype.writeHead doing one lookup keyed by the socket.
    const proto = http.ServerResponse.prototype;
    const writeHead = proto.writeHead;
    proto.writeHead = function writeHeadTraced(...args) {
      bySocket.get(this.socket);
      return writeHead.apply(this, args);
    };
  }
  if (suspect === 'on-patch') {
    // Wrappers of on/addListener/once on the request and response prototypes, one lookup each.
    for (const proto of [http.IncomingMessage.prototype, http.ServerResponse.prototype]) {
      const on = proto.on;
      const once = proto.once;
      proto.on = function onInContext(event, listener) {
        bySocket.get(this.socket);
        return on.call(this, event, listener);
      };
      proto.addListener = proto.on;
      proto.once = function onceInContext(event, listener) {
        bySocket.get(this.socket);
        return once.call(this, event, listener);
      };
    }
  }
  if (suspect === 'finish-channel') {
    // A subscriber to node's response-finish diagnostics channel.
    require('node:diagnostics_channel').subscribe('http.server.response.finish', (message) => {
      bySocket.get(message.socket);
    });
  }
  if (suspect === 'finish-listener') {
    // One `finish` listener per response.
    const onFinish = () => {};
    perRequest = (_req, res) => res.once('finish', onFinish);
  }
  if (suspect === 'headers') {
    // The two response headers an SDK adds (a trace id and a clock of one entry).
    perRequest = (_req, res) => {
      res.setHeader('X-Raceway-Trace-Id', '4bf92f3577b34da6a3ce929d0e0e4736');
      res.setHeader('X-Raceway-VC', '{"bench#1f3a9c07":2}');
    };
  }
  // A trace id and a span id drawn from a pooled random buffer.
  const { randomFillSync } = require('node:crypto');
  const pool = Buffer.allocUnsafe(4096);
  let offset = pool.length;
  const hex = (bytes) => {
    if (offset + bytes > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    offset += bytes;
    return pool.toString('hex', offset - bytes, offset);
  };
  if (suspect === 'ids') {
    perRequest = () => (storage.getStore().ids = hex(16) + hex(8));
  }
  const TRACE_HEADERS = new Set(['traceparent', 'x-raceway-trace-id']);
  if (suspect === 'unsampled-floor') {
    // What no implementation of the contract can skip for a request it does not sample: look
    // for incoming trace headers (a pass over the raw list), draw a trace id and a span id, and
    // put the trace id on the response (spec 5.4). No sampling decision, no clock, no
    // bookkeeping for the response's end.
    perRequest = (req, res) => {
      const raw = req.rawHeaders;
      let traced = false;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i];
        if ((name.length === 11 || name.length === 18) && TRACE_HEADERS.has(name.toLowerCase()))
          traced = true;
      }
      const store = storage.getStore();
      store.ids = traced ? '' : hex(16);
      store.span = hex(8);
      res.setHeader('X-Raceway-Trace-Id', store.ids);
    };
  }
  app.use((req, res, next) =>
    storage.run({ ids: '', span: '' }, () => {
      perRequest(req, res);
      next();
    }),
  );
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
  const systemUsPerRequest = cpu.system / Math.max(1, requests);
  server.close();
  server.closeAllConnections();
  shutdown().then(
    (stats) => {
      console.log(
        `stats ${JSON.stringify({ cpuUsPerRequest, systemUsPerRequest, requests, ...stats })}`,
      );
      process.exit(0);
    },
    (error) => {
      console.log(`stats ${JSON.stringify({ cpuUsPerRequest, requests, error: String(error) })}`);
      process.exit(0);
    },
  );
});
