// spec/vectors/param-digest.json, read from the repository (never a copy), each case its own
// test: the canonical form and digest of database parameter values (spec 4.3).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalParam, paramDigest } from './param-digest.js';

interface DigestCase {
  id: string;
  note: string;
  input: { value?: unknown; int?: string; float?: string; bytes?: string; key?: string };
  expected: { canonical: string; digest: string };
}

const path = fileURLToPath(new URL('../../../../spec/vectors/param-digest.json', import.meta.url));
const { cases } = JSON.parse(readFileSync(path, 'utf8')) as { cases: DigestCase[] };

/** The vector's input as the value a JavaScript driver would be given. */
function driverValue(input: DigestCase['input']): unknown {
  if (input.int !== undefined) return BigInt(input.int);
  if (input.bytes !== undefined) return Buffer.from(input.bytes, 'hex');
  if (input.float !== undefined) {
    return (
      { nan: Number.NaN, inf: Infinity, '-inf': -Infinity }[input.float] ?? Number(input.float)
    );
  }
  return input.value;
}

describe('spec/vectors/param-digest.json', () => {
  it.each(cases.map((c) => [c.id, c] as const))('%s', (_, c) => {
    const value = driverValue(c.input);
    expect(
      { canonical: canonicalParam(value), digest: paramDigest(value, c.input.key) },
      c.note,
    ).toEqual(c.expected);
  });
});
