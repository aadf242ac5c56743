import { useEffect, useState } from 'preact/hooks';
import { useApi } from '../api.js';
import { Empty, ErrorState, Loading } from '../components/states.js';
import { formatDateTime, formatValue, plural, serviceColor } from '../format.js';
import { href, Link, type Location, navigate } from '../router.js';
import type { History, HistoryEntry } from '../types.js';

// The history of one resource (/resources/history?resource=stock:mug): every read and write of
// it across traces, in time order and, within a trace, in happens-before order, with the values
// and SQL statements, to see where a value went wrong.

function Row({ entry }: { entry: HistoryEntry }) {
  return (
    <tr
      data-testid="history-entry"
      data-service={entry.service}
      data-kind={entry.kind}
      data-trace-id={entry.trace_id}
      class={entry.races.length > 0 ? 'racing' : undefined}
    >
      <td class="mono">{formatDateTime(entry.ts_us)}</td>
      <td>
        <Link
          class="mono"
          href={href(`/traces/${entry.trace_id}`, { events: entry.event_id })}
          title={entry.trace_id}
        >
          {entry.trace_id.slice(0, 8)}…
        </Link>
      </td>
      <td>
        <span class="chip" style={{ borderColor: serviceColor(entry.service) }}>
          {entry.service}
        </span>{' '}
        <span class="muted">{entry.instance}</span>
      </td>
      <td>
        <span class={`badge access-${entry.kind}`}>{entry.kind}</span>
        {entry.races.length > 0 && (
          <span class="badge" title={entry.races.join(', ')}>
            in {plural(entry.races.length, 'race')}
          </span>
        )}
      </td>
      <td class="mono">
        {formatValue(entry.value)}
        {entry.version !== undefined && <span class="muted"> v{formatValue(entry.version)}</span>}
      </td>
      <td class="mono">{entry.statement ?? ''}</td>
    </tr>
  );
}

export function HistoryView({ location }: { location: Location }) {
  const resource = location.query.get('resource') ?? '';
  // What is typed stays typed: the box follows the URL only when the URL changes (a link, back,
  // forward), never on the answer's refreshes.
  const [draft, setDraft] = useState(resource);
  useEffect(() => setDraft(resource), [resource]);
  const { data, error, loading } = useApi<History>(
    resource === '' ? null : href('/api/resources/history', { resource }),
    { pollMs: 5000 },
  );
  const submit = (event: Event) => {
    event.preventDefault();
    navigate(href('/resources/history', { resource: draft.trim() }));
  };

  return (
    <section class="view" data-testid="history-view">
      <h1>History</h1>
      <form class="filters" onSubmit={submit}>
        <label class="wide">
          Resource
          <input
            type="search"
            name="resource"
            data-testid="history-resource"
            placeholder="stock:mug or products[id=…].stock"
            value={draft}
            onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Show history</button>
      </form>
      {resource === '' && (
        <Empty title="Which resource?">
          <p>
            Type a resource name (a <code>trackStateRead</code>/<code>trackStateWrite</code>{' '}
            resource such as <code>stock:mug</code>, or a SQL row and column such as{' '}
            <code>products[id=…].stock</code>) and press Enter, or open the history of a resource
            from a race in <Link href="/races">Races</Link>.
          </p>
        </Empty>
      )}
      {resource !== '' && error && !data && <ErrorState error={error} what="the history" />}
      {resource !== '' && loading && !data && <Loading what="the history" />}
      {data && data.entries.length === 0 && (
        <Empty title="No access of this resource">
          <p>
            Nothing read or wrote <code>{data.resource}</code> between{' '}
            {formatDateTime(Date.parse(data.from) * 1000)} and{' '}
            {formatDateTime(Date.parse(data.to) * 1000)}.
          </p>
        </Empty>
      )}
      {data && data.entries.length > 0 && (
        <>
          <p class="muted" data-testid="history-summary">
            {plural(data.entries_returned, 'access', 'accesses')} of{' '}
            <span class="mono">{data.resource}</span> in{' '}
            {plural(new Set(data.entries.map((e) => e.trace_id)).size, 'trace')}
            {data.truncated ? ' (the newest ones only)' : ''}. Ordered by time; within a trace, by
            happens-before.
          </p>
          <table class="evidence history" data-testid="history-table">
            <thead>
              <tr>
                <th>time</th>
                <th>trace</th>
                <th>service</th>
                <th>access</th>
                <th>value</th>
                <th>statement</th>
              </tr>
            </thead>
            <tbody>
              {data.entries.map((entry, i) => (
                <Row key={`${entry.event_id}:${entry.kind}:${i}`} entry={entry} />
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
