import { formatClock, formatMs, formatTime, formatValue } from '../format.js';
import { spanAttributes } from '../trace-tree.js';
import type { Span } from '../types.js';

// The selected span beside the waterfall: what a Jaeger user reads in a span's detail (duration,
// status, attributes, the span's events) and what only Raceway has: each event's vector clock.

export function SpanPanel({ span, startUs }: { span: Span | null; startUs: number }) {
  if (span === null) {
    return (
      <aside class="panel span-panel" data-testid="span-panel" aria-label="Span">
        <h3>Span</h3>
        <p class="muted">Select a span in the waterfall to see its attributes, events and clock.</p>
      </aside>
    );
  }
  const status = span.failed ? 'error' : span.complete ? 'ok' : 'incomplete';
  const last = span.events[span.events.length - 1];
  return (
    <aside
      class="panel span-panel"
      data-testid="span-panel"
      aria-label="Span"
      data-span-id={span.span_id}
      // It scrolls when the span has many events: the keyboard must reach it (WCAG 2.1.1).
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region takes the focus
      tabIndex={0}
    >
      <h3 class="span-panel-title">{span.name}</h3>
      <dl>
        <dt>duration</dt>
        <dd data-testid="span-duration">{formatMs(span.duration_ms)}</dd>
        <dt>status</dt>
        <dd data-testid="span-status">
          <span class={span.failed ? 'badge error' : 'badge'}>{status}</span>
          {span.status !== null ? ` HTTP ${span.status}` : ''}
        </dd>
        <dt>starts at</dt>
        <dd>
          +{formatMs((span.start_us - startUs) / 1000)}{' '}
          <span class="muted">({formatTime(span.start_us)})</span>
        </dd>
      </dl>
      <h4>Attributes</h4>
      <dl data-testid="span-attributes">
        {spanAttributes(span).map(([key, value]) => (
          <>
            <dt key={`k-${key}`}>{key}</dt>
            <dd key={`v-${key}`} class="mono" data-attribute={key}>
              {value}
            </dd>
          </>
        ))}
        <dt>span id</dt>
        <dd class="mono">{span.span_id}</dd>
      </dl>
      <h4>Events ({span.events.length})</h4>
      <ol class="span-events" data-testid="span-events">
        {span.events.map((event) => (
          <li key={event.id} data-event-id={event.id}>
            <b>{event.kind}</b>{' '}
            <span class="muted">+{formatMs((event.ts_us - startUs) / 1000)}</span>
            {Object.entries(event.data)
              .filter(([key]) => key !== 'incoming')
              .map(([key, value]) => (
                <span key={key} class="mono event-field">
                  {' '}
                  {key}={formatValue(value)}
                </span>
              ))}
          </li>
        ))}
      </ol>
      {last && (
        <>
          <h4>Clock</h4>
          <p class="mono clock" data-testid="span-clock">
            {formatClock(last.clock)}
            {last.clock_dropped ? ` (+${last.clock_dropped} entries dropped)` : ''}
          </p>
          <p class="muted small">
            after the span's last event, {last.kind}, in {last.component}
          </p>
        </>
      )}
    </aside>
  );
}
