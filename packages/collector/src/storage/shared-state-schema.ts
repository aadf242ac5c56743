import { type Dialect, TYPES } from './sql.js';

/**
 * Version 4: what collectors sharing one database keep for each other.
 *
 * - `collector_aggregates`: each collector's aggregates of what it ingested (traffic buckets,
 *   SDKs seen), one row per collector, aggregate and bucket start, so collectors never write
 *   the same row; a query merges the rows of every collector (see SharedAggregates).
 *   `until_ms` is the end of what a row covers: retention deletes the rows past it.
 * - `analysis_leases`: which collector analyses a trace now, until when. A collector takes a
 *   lease before analysing and gives it back after saving; a lease past `expires_at_ms`
 *   (its collector died) is taken over.
 */
export function sharedStateSchema(d: Dialect): string {
  const t = TYPES[d];
  return `
CREATE TABLE collector_aggregates (
  collector_id ${t.text} NOT NULL,
  name ${t.text} NOT NULL,
  start_ms ${t.bigint} NOT NULL,
  until_ms ${t.bigint} NOT NULL,
  body ${t.text} NOT NULL,
  PRIMARY KEY (collector_id, name, start_ms)
);
CREATE INDEX collector_aggregates_range ON collector_aggregates (name, start_ms);
CREATE INDEX collector_aggregates_until ON collector_aggregates (until_ms);

CREATE TABLE analysis_leases (
  trace_id ${t.text} NOT NULL PRIMARY KEY,
  owner ${t.text} NOT NULL,
  expires_at_ms ${t.bigint} NOT NULL
);
`;
}
