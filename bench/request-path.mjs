// What the server lifecycle adds to one request, without the network: node's own
// IncomingMessage and ServerResponse on an unconnected socket, headers written, the response's
// finish published on node's diagnostics channel as node's server does. The baseline, measured
// in the same run, is the same request without Raceway. Export is left out (a transport that
// only counts): bench/http-overhead.mjs measures everything together, with far more noise.
//
//   pnpm --filter @raceway/core build && node bench/request-path.mjs [--requests 300000] [--rounds 5]
//
// Results: bench/results/request-path.md.
import diagnosticsChannel from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tracer } from '@raceway/core';
import { createServerLifecycle } from '@raceway/core/integration';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '5' },
  },
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);

const finish = diagnosticsChannel.channel('http.server.response.finish');
const socket = new Socket();
let recorded = 0;
const tracer = new Tracer(
  { serviceName: 'bench', serverUrl: 'http://127.0.0.1:9' },
  { transport: { enqueue: () => void recorded++ }, env: {} },
);
const lifecycle = createServerLifecycle(tracer);
// An unsampled request (`sampleRate: 0`): a context, ids and the trace id header, no events.
const unsampled = createServerLifecycle(
  new Tracer(
    { serviceName: 'bench', serverUrl: 'http://127.0.0.1:9', sampleRate: 0 },
    { transport: { enqueue: () => void recorded++ }, env: {} },
  ),
);

const handlers = {
  bare: (_req, res) => res.writeHead(200),
  raceway: (req, res) => {
    const span = lifecycle.start({ request: req, response: res });
    span.run(() => res.writeHead(200));
  },
  unsampled: (req, res) => {
    const span = unsampled.start({ request: req, response: res });
    span.run(() => res.writeHead(200));
  },
};

function oneRequest(handle) {
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/orders/42';
  req.headers = { host: 'shop.test' };
  req.rawHeaders = ['Host', 'shop.test'];
  const res = new ServerResponse(req);
  res.socket = socket;
  handle(req, res);
  finish.publish({ request: req, response: res, socket, server: null });
}

function nsPerRequest(handle) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) oneRequest(handle);
  return Number(process.hrtime.bigint() - start) / requests;
}

for (const handle of Object.values(handlers)) nsPerRequest(handle); // warm-up
const samples = { bare: [], raceway: [], unsampled: [] };
for (let round = 0; round < rounds; round++) {
  for (const [name, handle] of Object.entries(handlers)) samples[name].push(nsPerRequest(handle));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = median(samples.bare);
const raceway = median(samples.raceway);
const unsampledNs = median(samples.unsampled);
// Only the sampled variant records events.
const eventsPerRequest = recorded / (requests * (rounds + 1));

const report = `# Request path: what the server lifecycle adds to one request

Command: \`pnpm --filter @raceway/core build && node bench/request-path.mjs --requests ${requests} --rounds ${rounds}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.
node's own request and response objects, no network, export replaced by a counter; median of
${rounds} rounds of ${requests.toLocaleString('en-US')} requests, all variants in the same process.

| variant | ns/request |
|---|---|
| bare (objects, writeHead, finish) | ${bare.toFixed(0)} |
| raceway (lifecycle.start, run, writeHead, finish) | ${raceway.toFixed(0)} |
| **added by Raceway** | **${(raceway - bare).toFixed(0)}** (${eventsPerRequest.toFixed(1)} events recorded per request) |
| raceway, \`sampleRate: 0\` (context, ids, trace id header; nothing recorded) | ${unsampledNs.toFixed(0)} |
| **added by Raceway to an unsampled request** | **${(unsampledNs - bare).toFixed(0)}** |
`;
writeFileSync(join(here, 'results', 'request-path.md'), report);
console.log(report);
