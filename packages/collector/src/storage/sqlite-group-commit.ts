import type { BatchResult, SqliteWriter } from './sqlite-writer.js';
import type { EventRow } from './trace-delta.js';

interface Pending {
  rows: EventRow[];
  resolve: (result: BatchResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: batches queued within one event-loop turn are written in one transaction, so
 * the fsync that makes them durable is paid once for all of them. Each batch's promise
 * settles after that commit.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly writer: SqliteWriter) {}

  insert(rows: EventRow[]): Promise<BatchResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is queued now (also called before other writes and before closing). */
  flush(): void {
    this.scheduled = false;
    const group = this.queue;
    this.queue = [];
    if (group.length === 0) return;
    let results: BatchResult[];
    try {
      results = this.writer.insertBatches(group.map((p) => p.rows));
    } catch (error) {
      for (const pending of group) pending.reject(error);
      return;
    }
    for (const [i, pending] of group.entries()) pending.resolve(results[i]!);
  }
}
