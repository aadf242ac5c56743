import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { openSqliteDatabase } from './sqlite-driver.js';
import { GroupCommit } from './sqlite-group-commit.js';
import { applyWriterPragmas } from './sqlite-schema.js';
import { SqliteWriter } from './sqlite-writer.js';
import { fromColumns, type WriterRequest } from './sqlite-writer-port.js';

// The writer thread of the SQLite storage: owns the connection that writes, so that SQLite's
// work (B-tree updates, fsync, checkpoints) runs beside the HTTP event loop, not on it.

const port = parentPort!;
let db: Database.Database;
let writer: SqliteWriter;
let commits: GroupCommit;
try {
  db = openSqliteDatabase((workerData as { path: string }).path);
  applyWriterPragmas(db);
  writer = new SqliteWriter(db);
  commits = new GroupCommit(writer);
  port.postMessage({ id: 0, ok: true });
} catch (error) {
  port.postMessage({ id: 0, ok: false, message: (error as Error).message });
  process.exit(1);
}

const reply = (id: number, work: () => unknown) => {
  try {
    port.postMessage({ id, ok: true, result: work() });
  } catch (error) {
    port.postMessage({ id, ok: false, message: (error as Error).message });
  }
};

port.on('message', (request: WriterRequest) => {
  const { id } = request;
  if (request.op === 'insert') {
    commits.insert(fromColumns(request.columns)).then(
      (result) => port.postMessage({ id, ok: true, result }),
      (error: Error) => port.postMessage({ id, ok: false, message: error.message }),
    );
    return;
  }
  // Other writes see every batch acknowledged before them.
  commits.flush();
  switch (request.op) {
    case 'analysis':
      return reply(id, () => writer.saveTraceAnalyses(request.items));
    case 'races':
      return reply(id, () => writer.saveCrossTraceRaces(request.races));
    case 'retention':
      return reply(id, () => writer.retentionStep(request.cutoffUs));
    case 'aggregates':
      return reply(id, () =>
        writer.saveAggregates(request.collectorId, request.rows, request.replaced),
      );
    case 'close':
      reply(id, () => db.close());
      port.close();
      return;
  }
});
