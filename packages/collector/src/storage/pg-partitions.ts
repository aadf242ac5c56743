import type pg from 'pg';
import type { Dialect } from './sql.js';

// PostgreSQL keeps the per-event tables in one partition per UTC day of the events' own
// timestamps (ts_us), so that retention drops whole days (no row-by-row DELETE, no VACUUM of
// what it leaves) and a day's writes touch that day's indexes only. The event's timestamp, not
// its arrival: a retried batch carries the same timestamps and so meets its first copy in the
// same partition (the unique key of a partitioned table must hold the partition key).
// Ingestion refuses events older than retention or more than minutes ahead, so the days an
// event can fall in are the ones the collector creates ahead; the DEFAULT partition catches
// the rest (a larger retention elsewhere, a clock far off), and its rows move into a day's
// partition when that day's is created.

/** The tables kept in daily partitions: the ones with a row per event. */
export const PARTITIONED_TABLES = ['events', 'event_resources'] as const;
type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export const DAY_US = 86_400_000_000;

/**
 * The indexes of each table, created on the partitioned table (and so on every partition).
 * The events key holds ts_us: PostgreSQL requires the partition key in a unique key.
 */
const INDEXES: Record<PartitionedTable, string> = {
  events: `ALTER TABLE events ADD PRIMARY KEY (trace_id, id, ts_us);
CREATE INDEX events_kind_ts ON events (kind, ts_us);
CREATE INDEX events_resource ON events (resource, ts_us) WHERE resource IS NOT NULL;`,
  event_resources: `CREATE INDEX event_resources_resource ON event_resources (resource, ts_us);
CREATE INDEX event_resources_trace ON event_resources (trace_id);`,
};

/**
 * Version 6: events and event_resources partitioned by day of ts_us. The rows stored so far
 * go to the DEFAULT partition; the collector moves them into daily partitions as it creates
 * those (see {@link preparePartitions}). SQLite is one file and deletes rows: no change.
 */
export function timePartitionsSchema(d: Dialect): string {
  if (d === 'sqlite') return '';
  return PARTITIONED_TABLES.map(
    (table) => `
ALTER TABLE ${table} RENAME TO ${table}_unpartitioned;
CREATE TABLE ${table} (LIKE ${table}_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (ts_us);
CREATE TABLE ${table}_default PARTITION OF ${table} DEFAULT;
INSERT INTO ${table} SELECT * FROM ${table}_unpartitioned;
DROP TABLE ${table}_unpartitioned;
${INDEXES[table]}
`,
  ).join('');
}

/** `events_p20261207`: the partition of `table` for the UTC day starting at `dayUs`. */
export function partitionName(table: PartitionedTable, dayUs: number): string {
  return `${table}_p${new Date(dayUs / 1000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The start of the UTC day holding `tsUs`. */
export const dayOf = (tsUs: number): number => Math.floor(tsUs / DAY_US) * DAY_US;

// Arbitrary constant shared by every collector: serialises partition changes between
// collectors sharing the database (one creates a day, the others then find it).
const PARTITION_LOCK = 72_617_448;

// Creating, attaching and dropping a partition lock the parent table: a long query holding it
// must not queue every insert behind the change (inserts wait behind a waiting lock). The
// change waits at most a second, gives up, and is retried on the next maintenance run.
const LOCK_TIMEOUT = "SET LOCAL lock_timeout = '1s'";

/** The day starts of a table's daily partitions (not the default one). */
async function existingDays(client: pg.ClientBase, table: PartitionedTable): Promise<Set<number>> {
  const { rows } = await client.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = to_regclass($1)`,
    [table],
  );
  const days = new Set<number>();
  for (const { relname } of rows as Array<{ relname: string }>) {
    const match = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`).exec(relname);
    if (match) days.add(Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!) * 1000);
  }
  return days;
}

/**
 * Creates the partition of one day in one transaction: an empty table, the day's rows moved
 * out of the DEFAULT partition into it, then attached (which builds its indexes and checks
 * the DEFAULT partition holds nothing of that day any more).
 */
async function createDay(client: pg.ClientBase, table: PartitionedTable, dayUs: number) {
  const name = partitionName(table, dayUs);
  await client.query('BEGIN');
  try {
    await client.query(LOCK_TIMEOUT);
    await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
    if ((await existingDays(client, table)).has(dayUs)) {
      await client.query('COMMIT');
      return false;
    }
    await client.query(`CREATE TABLE ${name} (LIKE ${table} INCLUDING DEFAULTS)`);
    await client.query(
      `WITH moved AS (DELETE FROM ${table}_default WHERE ts_us >= $1 AND ts_us < $2 RETURNING *)
       INSERT INTO ${name} SELECT * FROM moved`,
      [dayUs, dayUs + DAY_US],
    );
    await client.query(
      `ALTER TABLE ${table} ATTACH PARTITION ${name} FOR VALUES FROM (${dayUs}) TO (${dayUs + DAY_US})`,
    );
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Days a partition is created ahead of today, so that midnight never finds one missing. */
const DAYS_AHEAD = 2;

/**
 * Creates the daily partitions that are missing: yesterday to {@link DAYS_AHEAD} days ahead of
 * `nowUs` (the days events arrive for), and every day from `keepFromUs` on that has rows in a
 * DEFAULT partition (the rows of a migrated database, or of a day that had no partition).
 * Resolves with the names of the partitions created.
 */
export async function preparePartitions(
  client: pg.ClientBase,
  nowUs: number,
  keepFromUs: number,
): Promise<string[]> {
  const created: string[] = [];
  for (const table of PARTITIONED_TABLES) {
    const days = new Set<number>();
    for (let d = dayOf(nowUs) - DAY_US; d <= dayOf(nowUs) + DAYS_AHEAD * DAY_US; d += DAY_US) {
      days.add(d);
    }
    const { rows } = await client.query(
      `SELECT DISTINCT (ts_us / ${DAY_US}) * ${DAY_US} AS day FROM ${table}_default WHERE ts_us >= $1`,
      [keepFromUs],
    );
    for (const { day } of rows as Array<{ day: string | number }>) days.add(Number(day));
    const existing = await existingDays(client, table);
    for (const day of [...days].sort((a, b) => a - b)) {
      if (!existing.has(day) && (await createDay(client, table, day))) {
        created.push(partitionName(table, day));
      }
    }
  }
  return created;
}

/**
 * Drops the daily partitions that end at or before `cutoffUs` (every row in them is older than
 * retention), one transaction each. Resolves with the end of the newest day dropped (0 when
 * none was), so that the caller can fix the traces that had events in them.
 */
export async function dropPartitionsBefore(
  client: pg.ClientBase,
  cutoffUs: number,
): Promise<{ dropped: string[]; untilUs: number }> {
  const dropped: string[] = [];
  let untilUs = 0;
  for (const table of PARTITIONED_TABLES) {
    for (const day of [...(await existingDays(client, table))].sort((a, b) => a - b)) {
      if (day + DAY_US > cutoffUs) continue;
      await client.query('BEGIN');
      try {
        await client.query(LOCK_TIMEOUT);
        await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        await client.query(`DROP TABLE IF EXISTS ${partitionName(table, day)}`);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      dropped.push(partitionName(table, day));
      untilUs = Math.max(untilUs, day + DAY_US);
    }
  }
  return { dropped, untilUs };
}
