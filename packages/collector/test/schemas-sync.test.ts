import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const spec = join(__dirname, '..', '..', '..', 'spec', 'schemas');
const packaged = join(__dirname, '..', 'src', 'schemas');

describe('packaged schemas', () => {
  const names = readdirSync(spec).filter((n) => n.endsWith('.json'));

  it('ships every schema of spec/schemas', () => {
    expect(names.length).toBeGreaterThan(0);
    expect(
      readdirSync(packaged)
        .filter((n) => n.endsWith('.json'))
        .sort(),
    ).toEqual([...names].sort());
  });

  // If this fails: pnpm --filter @raceway/collector sync:schemas
  it.each(names)('src/schemas/%s is identical to spec/schemas', (name) => {
    expect(readFileSync(join(packaged, name), 'utf8')).toBe(readFileSync(join(spec, name), 'utf8'));
  });
});
