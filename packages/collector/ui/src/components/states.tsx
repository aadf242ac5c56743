import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api.js';

// Loading, error and empty states that say what to do next.

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorState({ error, what }: { error: ApiError; what: string }) {
  if (error.status === 401) {
    return (
      <div class="state error" role="alert">
        <h2>A read key is needed</h2>
        <p>This collector only shows its data with a key. Enter it in the dialog.</p>
      </div>
    );
  }
  return (
    <div class="state error" role="alert">
      <h2>Could not load {what}</h2>
      <p>{error.message}</p>
      <p>
        <button type="button" onClick={() => window.location.reload()}>
          Retry
        </button>
      </p>
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state empty" data-testid="empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** What to do when the collector holds nothing yet: how to send it some data. */
export function NoDataYet() {
  const origin = window.location.origin;
  return (
    <Empty title="No traces yet">
      <p>This collector has not received any events. Send it some:</p>
      <ol>
        <li>
          Try the example shop: <code>pnpm demo</code> in the Raceway repository (six services and
          some traffic, with a race on purpose).
        </li>
        <li>
          Or instrument a service (Express shown; Koa, Fastify, fetch and axios alike) and start it
          with <code>RACEWAY_URL={origin}</code>:
          <pre>{`import { racewayMiddleware } from '@raceway/express';
app.use(racewayMiddleware({ serviceName: 'checkout' }));`}</pre>
        </li>
      </ol>
      <p>New traces appear here without a reload.</p>
    </Empty>
  );
}
