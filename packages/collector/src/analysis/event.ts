/**
 * The event shape of `spec/schemas/event.schema.json`, as the analysis reads it. Events reach
 * the analysis after schema validation, but every accessor below still checks the type of what
 * it reads: a field of the wrong type counts as absent, it never throws.
 */
export type EventKind =
  | 'request_received'
  | 'response_sent'
  | 'request_sent'
  | 'response_received'
  | 'state_read'
  | 'state_write'
  | 'lock_acquire'
  | 'lock_release'
  | 'error'
  | 'fork'
  | 'join'
  | 'custom'
  | 'db_query';

/** One event (spec 4): common fields plus the kind-specific `data`. */
export interface Event {
  id: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  service: string;
  instance: string;
  /** The execution context that recorded the event: its own clock component. */
  component: string;
  /** Wall-clock time in microseconds since the Unix epoch. */
  ts_us: number;
  kind: EventKind;
  /** The context's clock after this event's own increment. */
  clock: Record<string, number>;
  /** Present when the context's clock was truncated: how many entries are missing. */
  clock_dropped?: number;
  /**
   * Set by the analysis only (inferred-order.ts), never stored: the clock was inferred from
   * the trace's structure, not recorded, so a race resting on it is not `certain`.
   */
  clock_inferred?: boolean;
  data: Record<string, unknown>;
}

/** An error as events carry it (`error` events, failed responses and client calls). */
export interface EventError {
  type: string;
  message: string;
}

/** `a` comes first in time order: earlier, or at the same time with the smaller id. */
export function isEarlier(a: Event, b: Event): boolean {
  return a.ts_us < b.ts_us || (a.ts_us === b.ts_us && a.id < b.id);
}

/** Whether the event is a state access (`state_read` or `state_write`). */
export function isAccess(event: Event): boolean {
  return event.kind === 'state_read' || event.kind === 'state_write';
}

/** A string field of `data`, or undefined when absent or not a string. */
export function stringField(event: Event, key: string): string | undefined {
  const value = event.data[key];
  return typeof value === 'string' ? value : undefined;
}

/** A finite number field of `data`, or undefined when absent or not a number. */
export function numberField(event: Event, key: string): number | undefined {
  const value = event.data[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The resource a state access names, or null for other kinds (or a malformed access). */
export function resourceOf(event: Event): string | null {
  if (!isAccess(event)) return null;
  return stringField(event, 'resource') ?? null;
}

/** The lock a `lock_acquire`/`lock_release` event names, or null. */
export function lockOf(event: Event): string | null {
  if (event.kind !== 'lock_acquire' && event.kind !== 'lock_release') return null;
  return stringField(event, 'lock') ?? null;
}

/** The version an access saw or wrote, when it recorded one. */
export function versionOf(event: Event): string | number | undefined {
  const version = event.data.version;
  return typeof version === 'string' || (typeof version === 'number' && Number.isFinite(version))
    ? version
    : undefined;
}

/** Whether a write declared itself atomic (compare-and-set, `UPDATE ... SET x = x - 1`). */
export function isAtomicWrite(event: Event): boolean {
  return event.kind === 'state_write' && event.data.atomic === true;
}

/** The error a response, client call or `error` event carries, if any. */
export function errorOf(event: Event): EventError | undefined {
  const source = event.kind === 'error' ? event.data : event.data.error;
  if (source === null || typeof source !== 'object') return undefined;
  const { type, message } = source as Record<string, unknown>;
  if (typeof type !== 'string' && typeof message !== 'string') return undefined;
  return { type: typeof type === 'string' ? type : 'Error', message: String(message ?? '') };
}

/** The HTTP status of a `response_sent`/`response_received` event, if it has one. */
export function statusOf(event: Event): number | undefined {
  return numberField(event, 'status');
}

/**
 * Whether a response or client call failed: a status of 500 or more, or an error object
 * (a client call without a status failed at the network level).
 */
export function isFailure(event: Event): boolean {
  if (event.kind !== 'response_sent' && event.kind !== 'response_received') return false;
  const status = statusOf(event);
  if (status !== undefined && status >= 500) return true;
  return event.data.error !== undefined && event.data.error !== null;
}
