/**
 * Limits the collector puts on events beyond the contract's schema (which leaves free-form
 * values such as `data.value` and `data.attributes` open). An event over them is one rejected
 * entry of a 422 answer; the rest of its batch is stored.
 */
export interface EventLimits {
  /** Deepest nesting of an event, free-form values included (default 32). */
  maxDepth: number;
  /**
   * Largest `data` of an event, in bytes of JSON text, estimated while walking it (default
   * 64 KiB; SDKs cut values to 1 KiB of text).
   */
  maxDataBytes: number;
  /** How far ahead of the collector's clock a timestamp may be, in ms (default 10 minutes). */
  maxClockAheadMs: number;
  /**
   * How old a timestamp may be, in ms: the retention period (the collector sets it), since an
   * older event would be deleted by the next retention run. Default: no bound.
   */
  maxAgeMs: number;
  /** Largest `duration_ms` (default 7 days). */
  maxDurationMs: number;
  /** Largest `clock_dropped`: entries a clock can lose (default 1,000,000). */
  maxClockDropped: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxDepth: 32,
  maxDataBytes: 64 * 1024,
  maxClockAheadMs: 10 * 60_000,
  maxAgeMs: Number.POSITIVE_INFINITY,
  maxDurationMs: 7 * 86_400_000,
  maxClockDropped: 1_000_000,
};

/** Largest SDK-reported `dropped` count of one batch: beyond it, the count is not believable. */
export const MAX_BATCH_DROPPED = 1_000_000_000;

/**
 * Why an event (already valid against the schema) is over the limits, or null when it is
 * within them. Iterative, so any nesting is measured without exhausting the stack.
 *
 * @example
 * checkEventLimits(event, DEFAULT_EVENT_LIMITS, Date.now());
 * // ['/data/value is nested deeper than 32 levels']
 */
export function checkEventLimits(
  event: Record<string, unknown>,
  limits: EventLimits,
  nowMs: number,
): string[] | null {
  const errors: string[] = [];
  const short = (path: string) => (path.length > 200 ? `${path.slice(0, 199)}…` : path);
  const unstorable = unstorableString(event);
  if (unstorable !== null) {
    errors.push(
      `${short(unstorable)} holds ${UNSTORABLE_WHAT}, which not every store can keep: send well-formed Unicode without NUL`,
    );
  }
  // Only `data` holds free-form values: the schema bounds every other field (integers with a
  // maximum, strings with a pattern), so `data` is the one walk, one level below the event.
  const shape = measure(event.data, limits.maxDepth - 1);
  if (shape.tooDeep !== null) {
    errors.push(`/data${short(shape.tooDeep)} is nested deeper than ${limits.maxDepth} levels`);
  }
  if (shape.nonFinite !== null) {
    errors.push(`/data${short(shape.nonFinite)} is not a finite number`);
  }
  if (shape.tooDeep === null && shape.bytes > limits.maxDataBytes) {
    errors.push(
      `/data is about ${shape.bytes} bytes of JSON, above the limit of ${limits.maxDataBytes}: record smaller values`,
    );
  }
  const tsUs = event.ts_us;
  if (typeof tsUs === 'number' && tsUs > (nowMs + limits.maxClockAheadMs) * 1000) {
    errors.push(
      `/ts_us is ${new Date(tsUs / 1000).toISOString()}, more than ${limits.maxClockAheadMs / 60_000} minutes ahead of the collector's clock: check the host's clock`,
    );
  }
  if (typeof tsUs === 'number' && tsUs < (nowMs - limits.maxAgeMs) * 1000) {
    errors.push(
      `/ts_us is ${new Date(tsUs / 1000).toISOString()}, older than the collector keeps data (${formatAge(limits.maxAgeMs)}): it would be deleted at once`,
    );
  }
  const data = event.data as Record<string, unknown> | undefined;
  const duration = data?.duration_ms;
  if (typeof duration === 'number' && duration > limits.maxDurationMs) {
    errors.push(`/data/duration_ms is ${duration}, above ${limits.maxDurationMs}`);
  }
  const dropped = event.clock_dropped;
  if (typeof dropped === 'number' && dropped > limits.maxClockDropped) {
    errors.push(`/clock_dropped is ${dropped}, above ${limits.maxClockDropped}`);
  }
  return errors.length > 0 ? errors : null;
}

/** `7 days`, `12 hours`, `90 minutes`: a retention period as people say it. */
function formatAge(ms: number): string {
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (ms % 86_400_000 === 0) return count(ms / 86_400_000, 'day');
  if (ms % 3_600_000 === 0) return count(ms / 3_600_000, 'hour');
  return count(Math.round(ms / 60_000), 'minute');
}

const UNSTORABLE_WHAT = 'U+0000 or an unpaired surrogate';

/**
 * Whether a string can be stored as it is by every backend: PostgreSQL's text and jsonb hold no
 * U+0000, and UTF-8 has no encoding for an unpaired surrogate (JSON's `"\ud800"`). SQLite would
 * keep both, so the rule is the collector's, not a backend's: both answer alike.
 */
function isStorable(text: string): boolean {
  return text.isWellFormed() && !text.includes('\0');
}

/** Whether any string of a JSON value, key or value, is not storable by every backend (U+0000, an unpaired surrogate). */
export function holdsUnstorable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (!isStorable(item)) return true;
    } else if (typeof item === 'object' && item !== null) {
      for (const key in item) {
        if (!isStorable(key)) return true;
        stack.push((item as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

/**
 * The path of the first string, key or value, anywhere in the event that no backend can store
 * as it is, or null. The walk allocates nothing per node (it runs for every ingested event);
 * the path is built by a second walk, only when there is one.
 */
function unstorableString(event: Record<string, unknown>): string | null {
  if (!holdsUnstorable(event)) return null;
  const stack: Array<[unknown, string]> = [[event, '']];
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      if (!isStorable(item)) return path;
    } else if (typeof item === 'object' && item !== null) {
      for (const key in item) {
        const keyPath = `${path}/${JSON.stringify(key).slice(1, -1)}`;
        if (!isStorable(key)) return `${keyPath} (the key)`;
        stack.push([(item as Record<string, unknown>)[key], keyPath]);
      }
    }
  }
  return null;
}

interface Shape {
  /** Path of the first value nested too deep, or null. */
  tooDeep: string | null;
  /** Path of the first non-finite number (JSON's 1e999 parses to Infinity), or null. */
  nonFinite: string | null;
  /** Approximate size as JSON text. */
  bytes: number;
}

/**
 * Walks a parsed JSON value depth-first without allocating per node (this runs for every
 * ingested event); the path of an offending value is found by a second walk, only then.
 */
function measure(value: unknown, maxDepth: number): Shape {
  const shape: Shape = { tooDeep: null, nonFinite: null, bytes: 0 };
  const values: unknown[] = [value];
  const depths: number[] = [0];
  let deep = false;
  let infinite = false;
  while (values.length > 0) {
    const item = values.pop();
    const depth = depths.pop()!;
    if (typeof item === 'string') shape.bytes += item.length + 2;
    else if (typeof item === 'number') {
      shape.bytes += 8;
      if (!Number.isFinite(item)) infinite = true;
    } else if (item === null || typeof item === 'boolean') shape.bytes += 5;
    else if (typeof item === 'object') {
      if (depth >= maxDepth) {
        deep = true;
        break;
      }
      shape.bytes += 2;
      if (Array.isArray(item)) {
        for (let i = 0; i < item.length; i++) {
          values.push(item[i]);
          depths.push(depth + 1);
        }
        shape.bytes += item.length;
      } else {
        for (const key in item) {
          shape.bytes += key.length + 4;
          values.push((item as Record<string, unknown>)[key]);
          depths.push(depth + 1);
        }
      }
    }
  }
  if (deep)
    shape.tooDeep = pathTo(
      value,
      maxDepth,
      (v, depth) => depth >= maxDepth && typeof v === 'object' && v !== null,
    );
  if (infinite)
    shape.nonFinite = pathTo(value, maxDepth, (v) => typeof v === 'number' && !Number.isFinite(v));
  return shape;
}

/** The path of the first value (breadth-first, above `maxDepth`) that `found` accepts. */
function pathTo(
  value: unknown,
  maxDepth: number,
  found: (value: unknown, depth: number) => boolean,
): string {
  let level: Array<[unknown, string]> = [[value, '']];
  for (let depth = 0; depth <= maxDepth && level.length > 0; depth++) {
    const next: Array<[unknown, string]> = [];
    for (const [item, path] of level) {
      if (found(item, depth)) return path;
      if (typeof item !== 'object' || item === null) continue;
      for (const [key, child] of Object.entries(item)) next.push([child, `${path}/${key}`]);
    }
    level = next;
  }
  return '';
}
