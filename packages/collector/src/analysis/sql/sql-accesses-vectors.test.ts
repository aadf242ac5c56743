// The cases of spec/vectors/sql-accesses.json, read from the repository (never a copy): what
// the collector reads from one SQL statement (DESIGN 11). The core's spec-vectors suite checks
// that this runner exists (`runElsewhere`).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalValue, digestOf } from './sql-digest.js';
import { type SqlSystem, type StatementAnalysis, statementAccesses } from './statement-accesses.js';

interface VectorCase {
  id: string;
  note: string;
  input: { system: SqlSystem; statement: string; params?: unknown[] };
  expected: Record<string, unknown>;
}

const file = JSON.parse(
  readFileSync(new URL('../../../../../spec/vectors/sql-accesses.json', import.meta.url), 'utf8'),
) as { cases: VectorCase[] };

const DIGEST = /^[0-9a-f]{16}$/;

/** The analysis in the vector file's form. */
function asVector(analysis: StatementAnalysis): Record<string, unknown> {
  const out: Record<string, unknown> = {
    accesses: analysis.accesses.map((a) => {
      const access: Record<string, unknown> = {
        table: a.table,
        key: a.key,
        column: a.column,
        write: a.write,
        atomic: a.atomic,
      };
      if (a.value !== undefined) access.value = a.value;
      return access;
    }),
  };
  if (analysis.lock) out.lock = analysis.lock;
  if (analysis.compareAndSet) out.compare_and_set = true;
  if (analysis.transaction) out.transaction = analysis.transaction;
  if (analysis.unkeyed) out.unkeyed = analysis.unkeyed;
  return out;
}

/** A named parameter of the vectors: `{name, value}` (a value is never such an object). */
function isNamed(p: unknown): p is { name: string; value: unknown } {
  return (
    p !== null &&
    typeof p === 'object' &&
    !Array.isArray(p) &&
    typeof (p as { name?: unknown }).name === 'string' &&
    'value' in p
  );
}

describe('spec/vectors/sql-accesses.json', () => {
  it('covers the three dialects with at least 150 cases', () => {
    expect(file.cases.length).toBeGreaterThanOrEqual(150);
    for (const system of ['postgresql', 'mysql', 'sqlite']) {
      expect(file.cases.some((c) => c.input.system === system)).toBe(true);
    }
  });

  it.each(file.cases.map((c) => [`${c.id}: ${c.note}`, c] as const))('%s', (_, c) => {
    const digest = (p: unknown) =>
      typeof p === 'string' && DIGEST.test(p) ? p : digestOf(canonicalValue(p));
    const params = (c.input.params ?? []).map((p) =>
      isNamed(p) ? { name: p.name, digest: digest(p.value) } : digest(p),
    );
    expect(asVector(statementAccesses(c.input.system, c.input.statement, params))).toEqual(
      c.expected,
    );
  });
});
