// temporary harness (not committed): CPU per request, server + client + sink in one process
const http = require('http');
const { Pool } = require('undici');
const variant = process.argv[2]; const N = Number(process.argv[3] || 40000);
const sink = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('{"accepted":0,"duplicates":0}')); });
sink.listen(0, '127.0.0.1', async () => {
  const sinkUrl = `http://127.0.0.1:${sink.address().port}`;
  const express = require('express');
  const app = express();
  let tracer;
  if (variant === 'raceway' || variant === 'noexport') {
    const { racewayMiddleware } = require('@raceway/express');
    const { Tracer } = require('@raceway/core');
    const o = variant === 'raceway' ? { serviceName: 'bench', serverUrl: sinkUrl } : { serviceName: 'bench2', serverUrl: sinkUrl, maxQueueSize: 10, flushIntervalMs: 3600000 };
    app.use(racewayMiddleware(o)); tracer = Tracer.fromOptions(o);
  }
  app.get('/', (req, res) => res.send('hello world'));
  const server = http.createServer(app).listen(0, '127.0.0.1', async () => {
    const pool = new Pool(`http://127.0.0.1:${server.address().port}`, { connections: 16 });
    async function run(n) { let i = 0; await Promise.all(Array.from({ length: 16 }, async () => { while (i++ < n) { const r = await pool.request({ path: '/', method: 'GET' }); await r.body.text(); } })); }
    await run(N / 4);
    const c0 = process.cpuUsage(); const t0 = Date.now();
    await run(N);
    if (tracer) await tracer.flush();
    const c = process.cpuUsage(c0);
    console.log(variant.padEnd(10), 'cpu us/req', ((c.user + c.system) / N).toFixed(1), 'wall ms', Date.now() - t0, tracer ? JSON.stringify(tracer.transport.stats()) : '');
    process.exit(0);
  });
});
