// The baseline of bench/ingest.mjs: an HTTP endpoint that does only what every ingestion
// server must (read the body, gunzip, JSON.parse) and acknowledges without validating or
// storing anything. The collector's throughput is reported relative to this ceiling.
import { createServer } from 'node:http';
import { gunzip } from 'node:zlib';

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    gunzip(Buffer.concat(chunks), (err, raw) => {
      if (err) {
        res.writeHead(400).end('{}');
        return;
      }
      const batch = JSON.parse(raw.toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: batch.events.length, duplicates: 0 }));
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
