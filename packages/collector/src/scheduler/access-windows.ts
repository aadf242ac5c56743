import {
  isSqlTransactionStatement,
  type SqlAnalysisOptions,
  sqlConnectionOf,
  sqlResourcesOf,
} from '../analysis/sql/sql-accesses.js';
import { resourceOf, type StoredEvent } from '../event.js';
import { sqlConnectionKey } from '../storage/trace-delta.js';
import type { Storage } from '../storage/types.js';

/**
 * The resources an event accesses, as the cross-trace pass files it: the resource of a
 * `state_read`/`state_write`, every resource a `db_query` reads or writes (`sqlResourcesOf`).
 */
export function accessResourcesOf(event: StoredEvent, sql: SqlAnalysisOptions = {}): string[] {
  const resource = resourceOf(event);
  if (resource !== null) return [resource];
  return event.kind === 'db_query' ? sqlResourcesOf(event, sql) : [];
}

/**
 * Where the cross-trace race pass gets the recent accesses of one resource: the state events
 * in a time range plus the lock events of the contexts that made them (a window held under a
 * common lock is not a race) and the `request_received` events of the spans they ran in (the
 * routes that name each race's sides).
 */
export interface AccessWindows {
  /** Called with every newly stored event. */
  add(events: StoredEvent[]): void;
  /** The window of each resource asked for. */
  readMany(ranges: AccessRange[]): Promise<Map<string, StoredEvent[]>>;
}

export interface AccessRange {
  resource: string;
  fromUs: number;
  toUs: number;
}

const isLock = (e: StoredEvent) => e.kind === 'lock_acquire' || e.kind === 'lock_release';
const spanKey = (e: StoredEvent) => `${e.trace_id}\u0000${e.span_id}`;

/** Events listed once each (an event may be an access and a transaction statement). */
function distinctEvents(events: StoredEvent[]): StoredEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const key = `${e.trace_id}\u0000${e.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Per-resource windows kept in memory from ingestion: no read-back and no JSON parsing per
 * pass. Each resource keeps its accesses of the last `horizonUs` (by event time) and at most
 * `maxPerResource` of them; the least recently touched resources are forgotten past
 * `maxResources`. For a store that one collector owns (SQLite): every access passes here.
 */
export class MemoryAccessWindows implements AccessWindows {
  private readonly resources = new Map<string, StoredEvent[]>();
  private readonly locks = new Map<string, { events: StoredEvent[]; lastUs: number }>();
  /** Transaction statements (BEGIN, COMMIT, FOR UPDATE...) per SQL connection. */
  private readonly transactions = new Map<string, { events: StoredEvent[]; lastUs: number }>();
  /** The `request_received` event of each recent server span, oldest first (bounded). */
  private readonly requests = new Map<string, StoredEvent>();
  private newestUs = 0;
  private sinceSweep = 0;
  private held = 0;

  constructor(
    private readonly horizonUs: number,
    private readonly maxPerResource = 2000,
    private readonly maxResources = 20_000,
    /** Most accesses kept over all resources (memory bound). */
    private readonly maxAccesses = 50_000,
    private readonly sql: SqlAnalysisOptions = {},
  ) {}

  add(events: StoredEvent[]): void {
    for (const event of events) {
      const connection = sqlConnectionOf(event);
      if (connection !== null && isSqlTransactionStatement(event, this.sql)) {
        const held = this.transactions.get(connection) ?? { events: [], lastUs: 0 };
        held.events.push(event);
        held.lastUs = Math.max(held.lastUs, event.ts_us);
        this.transactions.set(connection, held);
        this.newestUs = Math.max(this.newestUs, event.ts_us);
      }
      const resources = accessResourcesOf(event, this.sql);
      for (const resource of resources) {
        let list = this.resources.get(resource);
        if (list) {
          // Re-inserted: the Map's order is least recently touched first.
          this.resources.delete(resource);
        } else {
          list = [];
        }
        this.resources.set(resource, list);
        list.push(event);
        this.held++;
        const oldest = event.ts_us - this.horizonUs;
        let drop = Math.max(0, list.length - this.maxPerResource);
        while (drop < list.length && list[drop]!.ts_us < oldest) drop++;
        if (drop > 0) {
          list.splice(0, drop);
          this.held -= drop;
        }
        // Past the bounds, the least recently touched resources are forgotten first.
        while (this.resources.size > this.maxResources || this.held > this.maxAccesses) {
          const [first, accesses] = this.resources.entries().next().value!;
          this.resources.delete(first);
          this.held -= accesses.length;
        }
      }
      if (event.kind === 'request_received') {
        this.requests.set(spanKey(event), event);
        // As many server spans as accesses, at most: the oldest are forgotten first.
        if (this.requests.size > this.maxAccesses) {
          this.requests.delete(this.requests.keys().next().value!);
        }
      }
      if (resources.length === 0) {
        if (!isLock(event)) continue;
        const held = this.locks.get(event.component) ?? { events: [], lastUs: 0 };
        held.events.push(event);
        held.lastUs = Math.max(held.lastUs, event.ts_us);
        this.locks.set(event.component, held);
      }
      this.newestUs = Math.max(this.newestUs, event.ts_us);
      if (++this.sinceSweep >= 10_000) this.sweepLocks();
    }
  }

  private sweepLocks(): void {
    this.sinceSweep = 0;
    const oldest = this.newestUs - this.horizonUs;
    for (const [component, held] of this.locks) {
      if (held.lastUs < oldest) this.locks.delete(component);
    }
    for (const [connection, held] of this.transactions) {
      if (held.lastUs < oldest) this.transactions.delete(connection);
      else held.events = held.events.filter((e) => e.ts_us >= oldest);
    }
    for (const [key, request] of this.requests) {
      if (request.ts_us >= oldest) break;
      this.requests.delete(key);
    }
  }

  async readMany(ranges: AccessRange[]): Promise<Map<string, StoredEvent[]>> {
    return new Map(ranges.map((r) => [r.resource, this.read(r.resource, r.fromUs, r.toUs)]));
  }

  /**
   * The accesses of one resource in [fromUs, toUs], then the lock events of their contexts
   * and the transaction statements of their SQL connections.
   */
  read(resource: string, fromUs: number, toUs: number): StoredEvent[] {
    const accesses = (this.resources.get(resource) ?? []).filter(
      (e) => e.ts_us >= fromUs && e.ts_us <= toUs,
    );
    const components = new Set(accesses.map((e) => e.component));
    const locks = [...components].flatMap((c) => this.locks.get(c)?.events ?? []);
    const requests = [...new Set(accesses.map(spanKey))]
      .map((key) => this.requests.get(key))
      .filter((e): e is StoredEvent => e !== undefined);
    const connections = new Set(
      accesses.map(sqlConnectionOf).filter((c): c is string => c !== null),
    );
    if (connections.size === 0) return [...accesses, ...locks, ...requests];
    const transactions = [...connections].flatMap((c) => this.transactions.get(c)?.events ?? []);
    return distinctEvents([...accesses, ...locks, ...transactions, ...requests]);
  }
}

/**
 * Windows read from storage: for a database several collectors write to (PostgreSQL), where
 * one collector's memory does not hold the accesses the others ingested. An indexed range read
 * per resource, never a scan of the store.
 */
export class StorageAccessWindows implements AccessWindows {
  constructor(
    private readonly storage: Storage,
    private readonly maxPerResource = 20_000,
  ) {}

  add(): void {}

  async readMany(ranges: AccessRange[]): Promise<Map<string, StoredEvent[]>> {
    const byResource = await this.storage.getStateAccessesMany(ranges, this.maxPerResource);
    const all = [...byResource.values()].flat();
    const traces = [...new Set(all.map((e) => e.trace_id))];
    const [locks, requests] =
      traces.length > 0
        ? await Promise.all([
            this.storage.getLockEvents(traces),
            this.storage.getRequestEvents(traces),
          ])
        : [[], []];
    const requestOf = new Map(requests.map((e) => [spanKey(e), e]));
    // The transaction statements of the SQL connections the accesses ran on, over the time
    // range of the windows that need them (filed under the connection's key at insert).
    const connectionRanges = new Map<string, AccessRange>();
    for (const range of ranges) {
      for (const e of byResource.get(range.resource) ?? []) {
        const connection = sqlConnectionOf(e);
        if (connection === null) continue;
        const key = sqlConnectionKey(connection);
        const r = connectionRanges.get(key);
        if (r) {
          r.fromUs = Math.min(r.fromUs, range.fromUs);
          r.toUs = Math.max(r.toUs, range.toUs);
        } else {
          connectionRanges.set(key, { resource: key, fromUs: range.fromUs, toUs: range.toUs });
        }
      }
    }
    const transactions =
      connectionRanges.size > 0
        ? await this.storage.getStateAccessesMany(
            [...connectionRanges.values()],
            this.maxPerResource,
          )
        : new Map<string, StoredEvent[]>();
    const out = new Map<string, StoredEvent[]>();
    for (const [resource, newestFirst] of byResource) {
      const accesses = newestFirst.reverse();
      const components = new Set(accesses.map((e) => e.component));
      const keys = new Set(
        accesses
          .map(sqlConnectionOf)
          .filter((c): c is string => c !== null)
          .map(sqlConnectionKey),
      );
      const statements = [...keys].flatMap((k) => transactions.get(k) ?? []);
      const spans = [...new Set(accesses.map(spanKey))];
      out.set(
        resource,
        distinctEvents([
          ...accesses,
          ...locks.filter((e) => components.has(e.component)),
          ...statements,
          ...spans.map((key) => requestOf.get(key)).filter((e): e is StoredEvent => !!e),
        ]),
      );
    }
    return out;
  }
}
