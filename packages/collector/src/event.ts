/**
 * The event shape of spec/schemas/event.schema.json as the collector stores and returns it.
 * Events are validated against the schema before they get this type.
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
  | 'custom';

export interface StoredEvent {
  id: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  service: string;
  instance: string;
  component: string;
  ts_us: number;
  kind: EventKind;
  clock: Record<string, number>;
  clock_dropped?: number;
  // The kind-specific payload; its shape is fixed by the schema's `if kind then data` rules.
  data: Record<string, unknown>;
}

/** Kinds that carry `data.resource` (a named piece of state). */
export function isStateKind(kind: string): boolean {
  return kind === 'state_read' || kind === 'state_write';
}

/** The resource of a state event, or null for every other kind. */
export function resourceOf(event: StoredEvent): string | null {
  if (!isStateKind(event.kind)) return null;
  const resource = event.data.resource;
  return typeof resource === 'string' ? resource : null;
}

/** Whether an event reports a failure: a 5xx answer, an error object, or an `error` event. */
export function isErrorEvent(event: StoredEvent): boolean {
  if (event.kind === 'error') return true;
  if (event.kind === 'response_sent' || event.kind === 'response_received') {
    const status = event.data.status;
    return event.data.error != null || (typeof status === 'number' && status >= 500);
  }
  return false;
}
