// The baseline of bench/ingest.mjs: an HTTP endpoint that does only what every ingestion
// server must (read the body, gunzip, JSON.parse) and acknowledges without validating or
// storing anything. The collector's throughput is reported relative to this ceiling.
//
// Given a storage (`sqlite:<path>` or `postgres://...`), it is the floor of storing: it also
// stores every batch with the collector's own storage (`openStorage(...).insertEvents`: the
// events table and its indexes, the trace summaries, SQLite's writer thread and group commit,
// or PostgreSQL's transaction per batch) and acknowledges after the commit. Still no schema
// validation, no limits, no HTTP framework, no analysis: the collector is held against it to
// see what its other stages cost.
//
//   node bench/ingest-sink.mjs [<sqlite:path | postgres://...>]
import { createServer } from 'node:http';
import { gunzip } from 'node:zlib';

const storage = process.argv[2]
  ? await (await import('@raceway/collector')).openStorage(process.argv[2])
  : null;

/** What the batch's events became: all accepted, or as the storage says after its commit. */
function store(events) {
  return storage
    ? storage.insertEvents(events)
    : Promise.resolve({ accepted: events.length, duplicates: 0 });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    gunzip(Buffer.concat(chunks), (err, raw) => {
      if (err) {
        res.writeHead(400).end('{}');
        return;
      }
      store(JSON.parse(raw.toString('utf8')).events).then(
        ({ accepted, duplicates }) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ accepted, duplicates }));
        },
        (error) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: String(error) }));
        },
      );
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () =>
  server.close(() => (storage ? storage.close() : Promise.resolve()).then(() => process.exit(0))),
);
