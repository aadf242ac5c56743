/** What the transport does with a collector answer (spec 4.1). */
export type SendOutcome =
  /** Every event is durable. */
  | 'delivered'
  /** 422: the valid events are durable, the rejected ones are counted as dropped, no retry. */
  | 'partial'
  /** 400, 401, 413, 415, other 1xx/3xx/4xx, a status outside 100-599: unusable as sent, counted as dropped, no retry. */
  | 'dropped'
  /** Network error, timeout, 408, 429, 5xx: nothing is guaranteed durable, retry with backoff. */
  | 'retry';

/**
 * Classifies an HTTP status, or `null` for a request that got no answer (spec 4.1, 4.2). A
 * status outside 100-599 is no HTTP answer the spec knows: dropped, not retried forever.
 */
export function classifyStatus(status: number | null): SendOutcome {
  if (status === null) return 'retry';
  if (status >= 200 && status <= 299) return 'delivered';
  if (status === 422) return 'partial';
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) return 'retry';
  return 'dropped';
}

/**
 * How many events a 422 answer rejected: the length of its `rejected` list, at most the batch
 * size. An answer that cannot be read counts the whole batch as rejected, so that the drop
 * counter errs towards reporting a problem.
 */
export function countRejected(body: string, batchSize: number): number {
  try {
    const parsed = JSON.parse(body) as { rejected?: unknown };
    if (Array.isArray(parsed.rejected)) return Math.min(parsed.rejected.length, batchSize);
  } catch {
    // fall through
  }
  return batchSize;
}
