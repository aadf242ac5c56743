// The export target of bench/http-overhead.mjs: accepts Raceway batches (POST /v1/events) and
// OTLP/HTTP exports (POST /v1/traces), reads and discards them, and answers 200, so that the
// instrumented apps pay for exporting and the sink costs as little CPU as possible. On SIGTERM
// prints one `stats <json>` line: requests and bytes received per path.
import { createServer } from 'node:http';

const stats = {};
const server = createServer((req, res) => {
  stats[req.url] ??= { requests: 0, bytes: 0 };
  const entry = stats[req.url];
  entry.requests += 1;
  req.on('data', (chunk) => {
    entry.bytes += chunk.length;
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/v1/events' ? '{"accepted":0,"duplicates":0}' : '{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.once('SIGTERM', () => {
  console.log(`stats ${JSON.stringify(stats)}`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
