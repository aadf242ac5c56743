import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestResponseSchema } from '../src/api/schemas/ingest.js';

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

describe("the API's schemas of contract shapes", () => {
  // If this fails: the contract's answer to POST /v1/events changed; change IngestResponseSchema
  // (src/api/schemas/ingest.ts) with it.
  it('declares the answer of POST /v1/events as spec/schemas/ingest-response.schema.json does', () => {
    const contract = JSON.parse(
      readFileSync(join(spec, 'ingest-response.schema.json'), 'utf8'),
    ) as { required: string[]; properties: Record<string, unknown> };
    const ours = JSON.parse(JSON.stringify(IngestResponseSchema)) as typeof contract;
    expect(ours.required).toEqual(contract.required);
    const { message: _message, ...declared } = ours.properties;
    expect(declared).toEqual(contract.properties);
  });
});
