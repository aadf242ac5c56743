// One variant of bench/pg-overhead.mjs, in a process of its own so that instrumentations do not
// mix: `bare` (pg alone), `raceway` (@raceway/pg, a Tracer whose transport counts events and
// discards them, every query inside one traced context) or `otel` (OpenTelemetry's Node tracer
// with @opentelemetry/instrumentation-pg, a span processor that counts ended spans and discards
// them, every query inside one active span). CommonJS on purpose: OpenTelemetry instruments pg
// through require hooks, which must be in place before pg is loaded.
//
//   node bench/pg-overhead-client.cjs <bare|raceway|otel> <postgres url> <iterations> <warmup>
//
// One iteration is `SELECT stock FROM products WHERE id = $1` then
// `UPDATE products SET stock = $1 WHERE id = $2`, sequential on one connection. Prints one
// `result <json>` line: CPU (process.cpuUsage) and wall time of the measured iterations, the
// queries they ran, and the events or spans recorded.
const [variant, url, iterationsArg, warmupArg] = process.argv.slice(2);
const iterations = Number(iterationsArg);
const warmup = Number(warmupArg);
const ROWS = 100;

let recorded = () => 0;
/** Runs `fn` where every query is recorded (bare: as is). */
let traced = (fn) => fn();

if (variant === 'otel') {
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
  const { trace } = require('@opentelemetry/api');
  let spans = 0;
  /** A span processor that discards every span: the export is left out, as for Raceway. */
  const discard = {
    onStart() {},
    onEnd() {
      spans++;
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new NodeTracerProvider({ spanProcessors: [discard] });
  provider.register();
  registerInstrumentations({ instrumentations: [new PgInstrumentation()] });
  const tracer = trace.getTracer('bench');
  recorded = () => spans;
  traced = (fn) =>
    tracer.startActiveSpan('bench', async (span) => {
      try {
        return await fn();
      } finally {
        span.end();
      }
    });
}

const pg = require('pg');

if (variant === 'raceway') {
  const { runInContext, Tracer } = require('@raceway/core');
  const { instrumentPg } = require('@raceway/pg');
  let events = 0;
  // The transport counts events and discards them (as bench/request-path.mjs): what recording
  // a query costs, without the export.
  const tracer = new Tracer(
    { serviceName: 'bench', serverUrl: 'http://127.0.0.1:9' },
    { transport: { enqueue: () => void events++ }, env: {} },
  );
  instrumentPg(pg);
  recorded = () => events;
  traced = (fn) => runInContext(tracer.startContext({}), fn);
} else if (variant !== 'bare' && variant !== 'otel') {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}

async function loop(client, n) {
  for (let i = 0; i < n; i++) {
    const id = (i % ROWS) + 1;
    const { rows } = await client.query('SELECT stock FROM products WHERE id = $1', [id]);
    await client.query('UPDATE products SET stock = $1 WHERE id = $2', [rows[0].stock + 1, id]);
  }
}

async function main() {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const result = await traced(async () => {
    await loop(client, warmup);
    const before = recorded();
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await loop(client, iterations);
    const wallNs = Number(process.hrtime.bigint() - start);
    const used = process.cpuUsage(cpu);
    const queries = iterations * 2;
    return {
      variant,
      queries,
      cpuUsPerQuery: (used.user + used.system) / queries,
      wallUsPerQuery: wallNs / 1000 / queries,
      recordedPerQuery: (recorded() - before) / queries,
    };
  });
  await client.end();
  console.log(`result ${JSON.stringify(result)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
