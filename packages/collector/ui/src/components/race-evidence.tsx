import { formatClock, formatValue } from '../format.js';
import { raceLink } from '../race-model.js';
import { Link } from '../router.js';
import type { RaceExample } from '../types.js';

// The accesses of one race instance, with their values, versions and clocks. Seen from a trace
// (`traceId`), an access in another trace (a race across traces) links to that trace with its
// own accesses marked: both sides of the race are one click apart.

export function RaceEvidence({ example, traceId }: { example: RaceExample; traceId?: string }) {
  const traces = new Set(example.accesses.map((a) => a.traceId));
  return (
    <table class="evidence" data-testid="race-evidence">
      <thead>
        <tr>
          <th>access</th>
          <th>service</th>
          {traces.size > 1 && <th>trace</th>}
          <th>value</th>
          <th>version</th>
          <th>clock</th>
        </tr>
      </thead>
      <tbody>
        {example.accesses.map((a) => (
          <tr key={a.eventId} data-event-id={a.eventId} data-trace-id={a.traceId}>
            <td>{a.kind.replace('state_', '')}</td>
            <td>{a.service}</td>
            {traces.size > 1 && (
              <td class="mono">
                {a.traceId === traceId ? (
                  'this trace'
                ) : (
                  <Link href={raceLink(example, a.traceId)} data-testid="other-side">
                    {a.traceId.slice(0, 8)}…
                  </Link>
                )}
              </td>
            )}
            <td class="mono">{formatValue(a.value)}</td>
            <td class="mono">{formatValue(a.version)}</td>
            <td class="mono clock">{formatClock(a.clock)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
