import { compareClocks } from '../clocks.js';
import { formatClock, formatTime, formatValue } from '../format.js';
import type { PlacedEvent } from '../space-time-model.js';

// The selected events: their fields, clocks, and how they relate by happens-before.

const RELATION_TEXT = {
  before: 'happens before',
  after: 'happens after',
  equal: 'has the same clock as',
  concurrent: 'is concurrent with',
} as const;

export function EventPanel({ events }: { events: PlacedEvent[] }) {
  if (events.length === 0) {
    return (
      <aside class="panel" data-testid="event-panel">
        <h3>Event</h3>
        <p class="muted">
          Select an event in the space-time view (or a span in the waterfall) to see its fields and
          vector clock.
        </p>
      </aside>
    );
  }
  const [first, ...others] = events;
  return (
    <aside class="panel" data-testid="event-panel">
      <h3>{events.length === 1 ? 'Event' : `${events.length} selected events`}</h3>
      {events.map((placed) => {
        const { event, span } = placed;
        return (
          <div key={event.id} class="event-detail" data-event-id={event.id}>
            <h4>
              {event.kind} · {placed.service}
            </h4>
            <dl>
              <dt>time</dt>
              <dd class="mono">{formatTime(event.ts_us)}</dd>
              <dt>context</dt>
              <dd class="mono">{event.component}</dd>
              <dt>span</dt>
              <dd>{span.name}</dd>
              {Object.entries(event.data).map(([key, value]) => (
                <>
                  <dt key={`k-${key}`}>{key}</dt>
                  <dd key={`v-${key}`} class="mono">
                    {formatValue(value)}
                  </dd>
                </>
              ))}
              <dt>clock</dt>
              <dd class="mono clock" data-testid="event-clock">
                {formatClock(event.clock)}
                {event.clock_dropped ? ` (+${event.clock_dropped} entries dropped)` : ''}
              </dd>
            </dl>
          </div>
        );
      })}
      {first && others.length > 0 && (
        <ul class="relations">
          {others.map((other) => (
            <li key={other.event.id}>
              {first.service} {first.event.kind}{' '}
              <b>{RELATION_TEXT[compareClocks(first.event.clock, other.event.clock)]}</b>{' '}
              {other.service} {other.event.kind}
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}
