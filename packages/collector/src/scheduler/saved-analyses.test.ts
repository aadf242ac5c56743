import { describe, expect, it } from 'vitest';
import type { RaceGroup, TraceDiagnostics } from '../analysis/index.js';
import type { RaceRecord, TraceAnalysisRecord } from '../storage/types.js';
import { SavedAnalyses } from './saved-analyses.js';

const traceId = 'a'.repeat(32);

function row(id: string, resource: string, note: string): RaceRecord {
  const race = { id, resource, firstTsUs: 1, note } as unknown as RaceGroup;
  return {
    id,
    scope: 'trace',
    traceA: traceId,
    traceB: null,
    resource,
    serviceA: 's',
    serviceB: 's',
    tsUs: 1,
    race,
  };
}

function record(version: number, races: RaceRecord[], errors: unknown[]): TraceAnalysisRecord {
  return {
    traceId,
    version,
    analyzedAtMs: 100 + version,
    races: races.map((r) => r.race),
    criticalPath: null,
    diagnostics: { errors, summary: { events: version } } as unknown as TraceDiagnostics,
    diagnosticCount: errors.length,
  };
}

describe('SavedAnalyses', () => {
  it('gives no changes for a trace it saved nothing of, then what changed since the last save', () => {
    const saved = new SavedAnalyses();
    const [a, b] = [row('a', 'r1', 'x'), row('b', 'r2', 'x')];
    const first = saved.item(record(1, [a, b], []), [a, b]);
    expect(first.item.changes).toBeUndefined();
    saved.remember(traceId, first.saved);

    // b is the same object (unchanged), c is new, a changed its JSON; the errors did not change.
    const a2 = row('a', 'r1', 'y');
    const c = row('c', 'r3', 'x');
    const second = saved.item(record(2, [a2, b, c], []), [a2, b, c]);
    expect(second.item.changes).toEqual({
      base: { version: 1, analyzedAtMs: 101 },
      races: [a2, c],
      goneRaces: [],
      parts: [{ name: 'diagnostics.summary', position: 2, body: '{"events":2}' }],
      goneParts: [],
    });
    saved.remember(traceId, second.saved);

    // a and c gone; a new error; the diagnostics became null: their lists' parts are gone.
    const third = saved.item({ ...record(3, [b], []), diagnostics: null }, [b]);
    expect(third.item.changes).toMatchObject({
      base: { version: 2, analyzedAtMs: 102 },
      races: [],
      goneRaces: [
        { resource: 'r1', id: 'a' },
        { resource: 'r3', id: 'c' },
      ],
      parts: [{ name: 'diagnostics', position: 1, body: 'null' }],
      goneParts: ['diagnostics.errors', 'diagnostics.summary'],
    });
  });

  it('forgets a trace, and the traces refused by `retain`: their next item has no changes', () => {
    const saved = new SavedAnalyses();
    const a = row('a', 'r1', 'x');
    saved.remember(traceId, saved.item(record(1, [a], []), [a]).saved);
    saved.retain(() => false);
    expect(saved.item(record(2, [a], []), [a]).item.changes).toBeUndefined();
    saved.remember(traceId, saved.item(record(2, [a], []), [a]).saved);
    saved.forget(traceId);
    expect(saved.size).toBe(0);
  });
});
