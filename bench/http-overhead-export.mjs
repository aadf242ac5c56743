// The export part of a traced request's cost, in one process: the two events a server request
// records (request_received, response_sent), recorded on a tracer, queued, encoded, batched and
// POSTed by the real Transport to a discard sink, with and without gzip; and, in the same run,
// the parts of that cost one by one and the alternatives tried against it:
//
// - record: context, ids, clock and the two events, not exported (the transport's enqueue is a
//   no-op);
// - encode: record, plus each event's JSON text as the transport makes it (toWireJSON), kept in
//   groups of 50 as the transport queues it: the JSON encoding alone, without batches or sends;
// - encode-fjs: the same with an encoder compiled from the event schema by fast-json-stringify
//   (the fixed fields and the data of these two kinds; the clock is spliced in as text);
// - encode-shared: the same with the fields the events of a context share (trace, span, parent,
//   service, instance, component) encoded once per context instead of once per event;
// - plain, gzip: the real Transport, batches of 200 (the defaults), to the sink;
// - plain-2000: the same with batches of 2000: a tenth of the sends, so the difference with
//   plain is nine tenths of what the sends of a request's batches cost;
// - worker-json: events encoded on the main thread as the transport does, the JSON text of each
//   batch of 200 posted to a worker thread that builds the body and POSTs it (a prototype, no
//   retries): what the main thread keeps when the I/O leaves it;
// - worker-objects: the events' fields posted as plain objects (structured clone) to a worker
//   that encodes, batches and POSTs them: what the main thread keeps when encoding leaves it too.
//   worker-json-gzip: worker-json, the worker gzipping. Each worker-* variant keeps one worker
//   for the whole run, as a transport would.
//
// Last, untimed, the timers that the default export sets per request are counted.
//
// Two CPU figures per request: the whole process (all threads, the libuv pool's gzip included;
// the sink runs in another process) and the main thread alone (the thread that serves the
// requests; /proc/self/task/<pid>/schedstat, so Linux only). Rounds interleaved, so that every
// variant sees the same machine load; the median of the rounds is reported.
// bench/http-overhead.mjs measures whole requests over the network, with far more noise.
//
//   pnpm --filter @raceway/core build && node bench/http-overhead-export.mjs [--requests 100000] [--rounds 7]
//
// Results: printed (copied into bench/results/http-overhead.md).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { Tracer } from '@raceway/core';
import { SDK_INFO, Transport } from '@raceway/core/integration';

const BATCH_HEAD = `{"sdk":${JSON.stringify(SDK_INFO)},"dropped":0,"events":[`;

if (!isMainThread) runSenderWorker();
else await main();

/**
 * The worker of the worker-* variants: receives the JSON text of a batch's events (or the
 * events' fields, then encodes them), builds the body and POSTs it to the sink, at most 3 in
 * flight (keep-alive), and answers with the number of events delivered.
 */
function runSenderWorker() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  const endpoint = new URL('/v1/events', workerData.url);
  parentPort.on('message', (message) => {
    const json = typeof message.json === 'string' ? message.json : encodeFields(message.events);
    let body = Buffer.from(`${BATCH_HEAD}${json}]}`, 'utf8');
    const headers = { 'content-type': 'application/json' };
    if (workerData.gzip) {
      body = gzipSync(body, { level: 1 });
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.length;
    const req = http.request(endpoint, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => parentPort.postMessage(message.count));
    });
    req.on('error', (error) => {
      throw error;
    });
    req.end(body);
  });
}

/** An event's fields before its clock and data, in the order toWireJSON writes them. */
function headOf(e) {
  return {
    id: e.id,
    trace_id: e.trace_id,
    span_id: e.span_id,
    parent_span_id: e.parent_span_id,
    service: e.service,
    instance: e.instance,
    component: e.component,
    ts_us: e.ts_us,
    kind: e.kind,
  };
}

/** The events' JSON from the fields posted by worker-objects, as toWireJSON writes it. */
function encodeFields(events) {
  return events
    .map((e) => {
      const head = JSON.stringify(headOf(e));
      return `${head.slice(0, -1)},"clock":${e.clock},"data":${JSON.stringify(e.data)}}`;
    })
    .join(',');
}

async function main() {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '7' },
    },
  });
  const requests = Number(values.requests);
  const rounds = Number(values.rounds);
  const loadAtStart = loadavg()[0];

  // The discard sink of http-overhead.mjs, in a process of its own: its CPU is not counted.
  const sink = spawn(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'discard-sink.mjs')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve) => {
    let out = '';
    sink.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]);
    });
  });

  /** A transport to the sink, as the SDK's defaults make it (the queue large enough for a run). */
  function sinkTransport(compression, batchSize = 200) {
    return new Transport({
      endpoint: new URL('/v1/events', url),
      apiKey: null,
      batchSize,
      flushIntervalMs: 1000,
      maxQueueSize: 1_000_000,
      maxQueueBytes: 2 ** 31,
      requestTimeoutMs: 10_000,
      compression,
    });
  }

  /** CPU ns of the main thread so far (its thread id is the process id). */
  function mainThreadNs() {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  }

  /**
   * Records the events of `requests` server requests through `transport`; the CPU µs per
   * request (process, main thread), counted until `finish` (the transport's flush, or nothing)
   * has resolved.
   */
  async function cpuPerRequest(transport, finish) {
    const tracer = new Tracer(
      { serviceName: 'bench', instance: 'bench:1' },
      { transport, env: {} },
    );
    const from = process.cpuUsage();
    const mainFrom = mainThreadNs();
    for (let i = 0; i < requests; i++) {
      const ctx = tracer.startContext({});
      ctx.record('request_received', {
        method: 'GET',
        path: '/',
        incoming: { status: 'absent', reasons: [] },
      });
      ctx.record('response_sent', { method: 'GET', route: '/', status: 200, duration_ms: 0.21 });
      // Let the transport's timers and requests run, as a server's event loop would.
      if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
    }
    await finish();
    const cpu = process.cpuUsage(from);
    return {
      process: (cpu.user + cpu.system) / requests,
      main: (mainThreadNs() - mainFrom) / 1000 / requests,
    };
  }

  /** The real Transport to the sink. */
  async function exported(compression, batchSize) {
    const transport = sinkTransport(compression, batchSize);
    const perRequest = await cpuPerRequest(transport, () => transport.flush());
    const stats = transport.stats();
    await transport.shutdown();
    if (stats.sent !== requests * 2) throw new Error(`sent ${stats.sent} of ${requests * 2}`);
    return perRequest;
  }

  /** A stand-in transport whose enqueue is `enqueue`; nothing leaves the process. */
  function stub(enqueue) {
    const transport = sinkTransport('none');
    transport.enqueue = enqueue;
    return transport;
  }

  function recordOnly() {
    return cpuPerRequest(
      stub(() => {}),
      async () => {},
    );
  }

  /** Record, then encode each event with `encode` into groups of 50 joined texts, as queued. */
  function encodeOnly(encode) {
    let group = [];
    const queued = [];
    const transport = stub((event) => {
      group.push(encode(event));
      if (group.length === 50) {
        queued.push(group.join(','));
        group = [];
      }
      // Dropped now and then, as sent batches are, so that the heap stays as in the others.
      if (queued.length === 4) queued.length = 0;
    });
    return cpuPerRequest(transport, async () => {});
  }

  const fjsEncode = fastJsonStringifyEncoder();

  /** One worker per variant, started once and kept across rounds (as a transport would keep it). */
  const workers = new Map();
  async function senderWorker(key, gzip) {
    if (!workers.has(key)) {
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { url, gzip } });
      await new Promise((resolve) => worker.once('online', resolve));
      workers.set(key, worker);
    }
    return workers.get(key);
  }

  /**
   * The worker-* variants: `post(worker, events)` hands a batch of 200 events to a worker that
   * sends it; measured until every event was delivered.
   */
  async function viaWorker(key, gzip, post) {
    const worker = await senderWorker(key, gzip);
    let delivered = 0;
    const wanted = requests * 2;
    const done = new Promise((resolve) => {
      const onDelivered = (count) => {
        delivered += count;
        if (delivered < wanted) return;
        worker.off('message', onDelivered);
        resolve();
      };
      worker.on('message', onDelivered);
    });
    let batch = [];
    const transport = stub((event) => {
      batch.push(event);
      if (batch.length === 200) {
        post(worker, batch);
        batch = [];
      }
    });
    return cpuPerRequest(transport, () => {
      if (batch.length > 0) post(worker, batch);
      return done;
    });
  }

  const postJson = (worker, events) =>
    worker.postMessage({
      json: events.map((event) => event.toWireJSON()).join(','),
      count: events.length,
    });
  const postObjects = (worker, events) =>
    worker.postMessage({
      events: events.map((e) => ({
        ...headOf(e),
        // The clock as the event holds it: its text (RecordedEvent reads it from the tick).
        clock: clockText(e),
        data: e.data,
      })),
      count: events.length,
    });

  const variants = {
    record: ['context + ids + clock + 2 events recorded (no export)', recordOnly],
    encode: [
      'recorded + JSON-encoded in groups of 50 (toWireJSON), not sent',
      () => encodeOnly((e) => e.toWireJSON()),
    ],
    'encode-fjs': [
      'recorded + encoded by fast-json-stringify (compiled from the schema), not sent',
      () => encodeOnly(fjsEncode),
    ],
    'encode-shared': [
      "recorded + encoded with the fields a context's events share encoded once per context",
      () => encodeOnly(sharedFieldsEncoder()),
    ],
    plain: ['exported, plain JSON, batches of 200 (loopback default)', () => exported('none', 200)],
    'plain-2000': ['exported, plain JSON, batches of 2000', () => exported('none', 2000)],
    gzip: ['exported, gzip, batches of 200 (remote default)', () => exported('gzip', 200)],
    'worker-json': [
      'encoded on the main thread, batch JSON posted to a worker that POSTs it',
      () => viaWorker('json', false, postJson),
    ],
    'worker-json-gzip': [
      'the same, the worker gzips',
      () => viaWorker('json-gzip', true, postJson),
    ],
    'worker-objects': [
      'events posted as objects (structured clone) to a worker that encodes and POSTs',
      () => viaWorker('objects', false, postObjects),
    ],
  };

  // Warm-up: every variant once.
  for (const [, run] of Object.values(variants)) await run();
  const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, [, run]] of Object.entries(variants)) samples[name].push(await run());
  }
  for (const worker of workers.values()) await worker.terminate();

  // Timers the default export sets (all of them: the batch timer's and any other), counted in a
  // pass of its own, untimed: a count does not depend on the machine's load.
  const realSetTimeout = globalThis.setTimeout;
  let timersSet = 0;
  globalThis.setTimeout = (...args) => {
    timersSet++;
    return realSetTimeout(...args);
  };
  await exported('none', 200);
  globalThis.setTimeout = realSetTimeout;
  sink.kill('SIGKILL');

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const med = Object.fromEntries(
    Object.entries(samples).map(([name, xs]) => [
      name,
      { process: median(xs.map((x) => x.process)), main: median(xs.map((x) => x.main)) },
    ]),
  );
  const rows = Object.entries(variants).map(
    ([name, [label]]) =>
      `| ${name} | ${label} | ${med[name].process.toFixed(2)} | ${med[name].main.toFixed(2)} | ${samples[name].map((x) => x.main.toFixed(1)).join(', ')} |`,
  );
  const diff = (a, b, key = 'main') => (med[a][key] - med[b][key]).toFixed(2);
  console.log(`Command: \`node bench/http-overhead-export.mjs --requests ${requests} --rounds ${rounds}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average ${loadAtStart.toFixed(1)} when the run started, ${loadavg()[0].toFixed(1)} when it ended; median of ${rounds} interleaved rounds of ${requests.toLocaleString('en-US')} requests (2 events each).

| variant | what runs | CPU µs/request, process | CPU µs/request, main thread | main thread, per round |
|---|---|---|---|---|
${rows.join('\n')}

Split of the default export (plain), main thread, µs/request: JSON encoding ${diff('encode', 'record')}; batches, sends and timers ${diff('plain', 'encode')}, of which nine tenths of the sends ${diff('plain', 'plain-2000')}; gzip adds ${diff('gzip', 'plain', 'process')} to the process, ${diff('gzip', 'plain')} to the main thread.
Export alone (beyond recording), main thread: plain ${diff('plain', 'record')}, gzip ${diff('gzip', 'record')}, worker-json ${diff('worker-json', 'record')}, worker-json-gzip ${diff('worker-json-gzip', 'record')}, worker-objects ${diff('worker-objects', 'record')}; process: plain ${diff('plain', 'record', 'process')}, worker-json ${diff('worker-json', 'record', 'process')}, worker-objects ${diff('worker-objects', 'record', 'process')}.
Timers set by the default export (plain): ${((timersSet / requests) * 1000).toFixed(1)} per 1,000 requests.
Encoders, main thread: toWireJSON ${diff('encode', 'record')}, fast-json-stringify ${diff('encode-fjs', 'record')}, shared fields once per context ${diff('encode-shared', 'record')}.`);
}

/**
 * The clock text of an event recorded here, without encoding the event: a recorded event keeps
 * it private (toWireJSON writes it), and every context here records its two events on a clock
 * of its own component alone. Costs about what reading the kept text costs, plus the key's
 * quoting: a little more, not less, for the variants that use it.
 */
function clockText(event) {
  return `{${JSON.stringify(event.component)}:${event.kind === 'request_received' ? 1 : 2}}`;
}

/**
 * An encoder that writes the fields the events of one context share (trace, span, parent,
 * service, instance, component) once per context, and per event only the id, time, kind, clock
 * and data. The events of a context come one after the other here, so the last context's text is
 * the cache.
 */
function sharedFieldsEncoder() {
  let component = null;
  let shared = '';
  return (e) => {
    if (e.component !== component) {
      component = e.component;
      shared = JSON.stringify({
        trace_id: e.trace_id,
        span_id: e.span_id,
        parent_span_id: e.parent_span_id,
        service: e.service,
        instance: e.instance,
        component: e.component,
      }).slice(1, -1);
    }
    return `{"id":${JSON.stringify(e.id)},${shared},"ts_us":${e.ts_us},"kind":${JSON.stringify(e.kind)},"clock":${clockText(e)},"data":${JSON.stringify(e.data)}}`;
  };
}

/**
 * An event encoder compiled by fast-json-stringify from the event schema's fixed fields and the
 * data of the two kinds recorded here (resolved through @raceway/fastify's fastify, which
 * depends on it); the clock is spliced in as its text, as toWireJSON does.
 */
function fastJsonStringifyEncoder() {
  const fromFastify = createRequire(
    createRequire(new URL('../packages/fastify/package.json', import.meta.url)).resolve('fastify'),
  );
  const fjs = fromFastify('fast-json-stringify');
  const string = { type: 'string' };
  const head = fjs({
    type: 'object',
    properties: {
      id: string,
      trace_id: string,
      span_id: string,
      parent_span_id: { type: 'string', nullable: true },
      service: string,
      instance: string,
      component: string,
      ts_us: { type: 'integer' },
      kind: string,
    },
    required: [
      'id',
      'trace_id',
      'span_id',
      'parent_span_id',
      'service',
      'instance',
      'component',
      'ts_us',
      'kind',
    ],
  });
  const data = {
    request_received: fjs({
      type: 'object',
      properties: {
        method: string,
        path: string,
        route: { type: 'string', nullable: true },
        incoming: {
          type: 'object',
          properties: { status: string, reasons: { type: 'array', items: string } },
          required: ['status', 'reasons'],
        },
      },
      required: ['method', 'path', 'incoming'],
    }),
    response_sent: fjs({
      type: 'object',
      properties: {
        method: string,
        route: { type: 'string', nullable: true },
        status: { type: 'integer' },
        duration_ms: { type: 'number' },
      },
      required: ['method', 'status', 'duration_ms'],
    }),
  };
  return (e) => {
    // A plain object: fast-json-stringify calls an object's toJSON, which builds the clock.
    const fields = head(headOf(e));
    return `${fields.slice(0, -1)},"clock":${clockText(e)},"data":${data[e.kind](e.data)}}`;
  };
}
