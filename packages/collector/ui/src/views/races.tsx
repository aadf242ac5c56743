import { useMemo, useState } from 'preact/hooks';
import { useApi } from '../api.js';
import { InputFilter, SelectFilter } from '../components/filter-fields.js';
import { RaceEvidence } from '../components/race-evidence.js';
import { Empty, ErrorState, Loading } from '../components/states.js';
import { formatDateTime, plural, serviceColor } from '../format.js';
import {
  groupByResource,
  kindLabel,
  OUTCOME_LABELS,
  type RaceView,
  raceLink,
  toRaceView,
} from '../race-model.js';
import { href, Link, type Location, navigate, queryObject } from '../router.js';
import type { RacePage } from '../types.js';

// Races grouped by resource, within one trace and across traces, with their evidence and
// links into the trace view with the racing accesses selected.

function RaceEntry({ race }: { race: RaceView }) {
  const [open, setOpen] = useState(false);
  const example = race.examples[0];
  const sides =
    race.sides.length > 0
      ? race.sides.map((s) => `${s.service}${s.route ? ` ${s.route}` : ''}`).join(' ↔ ')
      : race.services.join(' ↔ ');
  return (
    <li class="race" data-race-id={race.id} data-resource={race.resource} data-kind={race.kind}>
      <div class="race-head">
        <span class={`badge kind-${race.kind}`}>{kindLabel(race.kind)}</span>
        <span class="badge">{race.scope === 'cross' ? 'across traces' : 'within a trace'}</span>
        {race.outcome && (
          <span class={`badge outcome-${race.outcome}`} data-testid="race-outcome">
            {OUTCOME_LABELS[race.outcome]}
          </span>
        )}
        <span>{sides}</span>
        <span class="muted">
          {plural(race.count, 'instance')} · {race.confidence ?? ''} · evidence:{' '}
          {race.evidence ?? 'clock'} · {formatDateTime(race.lastTsUs)}
        </span>
      </div>
      <p>{race.explanation}</p>
      <p class="links">
        {race.traceIds.slice(0, 4).map((traceId) => (
          <Link
            key={traceId}
            href={example ? raceLink(example, traceId) : `/traces/${traceId}`}
            data-testid="open-race"
            class="mono"
          >
            open in trace {traceId.slice(0, 8)}…
          </Link>
        ))}
        <Link
          href={href('/resources/history', { resource: race.resource })}
          data-testid="race-history"
        >
          history of <span class="mono">{race.label}</span>
        </Link>
        {example && (
          <button type="button" class="link" onClick={() => setOpen(!open)} aria-expanded={open}>
            {open ? 'hide evidence' : 'show evidence'}
          </button>
        )}
      </p>
      {open && example && <RaceEvidence example={example} />}
    </li>
  );
}

export function RacesView({ location }: { location: Location }) {
  const q = queryObject(location.query);
  const { data, error, loading } = useApi<RacePage>(
    href('/api/races', { limit: 1000, service: q.service, resource: q.resource, scope: q.scope }),
    { pollMs: 5000 },
  );
  const groups = useMemo(() => groupByResource((data?.races ?? []).map(toRaceView)), [data]);
  const set = (key: string, value: string | undefined) =>
    navigate(href('/races', { ...q, [key]: value }), { replace: true });

  return (
    <section class="view" data-testid="races-view">
      <h1>Races</h1>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <InputFilter label="Service" name="service" filters={q} set={set} />
        <InputFilter label="Resource" name="resource" filters={q} set={set} />
        <SelectFilter
          label="Scope"
          name="scope"
          filters={q}
          set={set}
          options={[
            ['', 'both'],
            ['trace', 'within a trace'],
            ['cross', 'across traces'],
          ]}
        />
        {(q.service || q.resource || q.scope) && (
          <button type="button" onClick={() => navigate('/races', { replace: true })}>
            Clear filters
          </button>
        )}
      </form>
      {error && !data && <ErrorState error={error} what="races" />}
      {loading && !data && <Loading what="races" />}
      {data && groups.length === 0 && (
        <Empty
          title={
            q.service || q.resource || q.scope ? 'No race matches these filters' : 'No races found'
          }
        >
          <p>
            Races show up when two execution contexts access the same resource without ordering: the
            same database row, in the statements an instrumented driver reports (@raceway/pg,
            @raceway/mysql2, @raceway/better-sqlite3), or a resource named with @raceway/core's{' '}
            <code>{'trackStateRead(resource, { value })'}</code> and{' '}
            <code>{'trackStateWrite(resource, { value })'}</code>.
          </p>
        </Empty>
      )}
      {groups.map((group) => (
        <article
          key={group.resource}
          class="resource"
          data-testid="race-resource"
          data-resource={group.resource}
        >
          <h2>
            <span class="mono" title={group.resource}>
              {group.label}
            </span>{' '}
            <span class="muted">
              {plural(group.instances, 'instance')} in {plural(group.traces, 'trace')} ·{' '}
              {group.kinds.map(kindLabel).join(', ')}
            </span>
          </h2>
          <p class="chips">
            {group.services.map((s) => (
              <Link
                key={s}
                class="chip"
                href={href('/races', { ...q, service: s })}
                style={{ borderColor: serviceColor(s) }}
              >
                {s}
              </Link>
            ))}
          </p>
          <ul class="race-list">
            {group.races.map((race) => (
              <RaceEntry key={race.id} race={race} />
            ))}
          </ul>
        </article>
      ))}
    </section>
  );
}
