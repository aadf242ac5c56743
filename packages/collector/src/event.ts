/**
 * The event shape of spec/schemas/event.schema.json as the collector stores and returns it.
 * Events are validated against the schema before they get this type. The one definition of
 * the shape lives with the analysis, which reads stored events defensively.
 */
import { type Event, isFailure, resourceOf } from './analysis/event.js';

export type { EventKind } from './analysis/event.js';
export type StoredEvent = Event;
export { resourceOf };

/** Whether an event reports a failure: a 5xx answer, an error object, or an `error` event. */
export function isErrorEvent(event: StoredEvent): boolean {
  return event.kind === 'error' || isFailure(event);
}
