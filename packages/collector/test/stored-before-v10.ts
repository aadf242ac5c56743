import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { StoredEvent } from '../src/event.js';
import { blob } from '../src/storage/sqlite-schema.js';
import { type EventRow, toEventRow } from '../src/storage/trace-delta.js';

// Events stored as a collector before schema version 10 stored them, for tests that upgrade
// such a database: the events, and in `event_resources` (no event body then) the resources of
// db_query events only, since state events were read by `events.resource`. Trace summaries are
// left out: none of these tests reads them.

const INSERT_EVENT = `INSERT INTO events (id, trace_id, span_id, parent_span_id, service, kind, ts_us, resource, body)`;
const INSERT_RESOURCE = 'INSERT INTO event_resources (trace_id, event_id, resource, ts_us)';

function rowsOf(events: StoredEvent[]) {
  const rows = events.map((e) => toEventRow(e));
  return {
    events: rows,
    resources: rows.flatMap((row) =>
      row.resource === null ? row.indexed.map((resource) => ({ row, resource })) : [],
    ),
  };
}

const eventValues = (r: EventRow) => [
  r.spanId,
  r.parentSpanId,
  r.service,
  r.kind,
  r.tsUs,
  r.resource,
  r.body,
];

export function storeBeforeV10Sqlite(db: Database.Database, events: StoredEvent[]): void {
  const { events: rows, resources } = rowsOf(events);
  const event = db.prepare(`${INSERT_EVENT} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const resource = db.prepare(`${INSERT_RESOURCE} VALUES (?, ?, ?, ?)`);
  for (const r of rows) event.run(blob(r.id), blob(r.traceId), ...eventValues(r));
  for (const { row, resource: name } of resources) {
    resource.run(blob(row.traceId), blob(row.id), name, row.tsUs);
  }
}

export async function storeBeforeV10Postgres(
  client: pg.ClientBase,
  events: StoredEvent[],
): Promise<void> {
  const { events: rows, resources } = rowsOf(events);
  for (const r of rows) {
    await client.query(`${INSERT_EVENT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
      r.id,
      r.traceId,
      ...eventValues(r),
    ]);
  }
  for (const { row, resource } of resources) {
    await client.query(`${INSERT_RESOURCE} VALUES ($1, $2, $3, $4)`, [
      row.traceId,
      row.id,
      resource,
      row.tsUs,
    ]);
  }
}
