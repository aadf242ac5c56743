// spec/vectors/delivery.json, read from the repository (never a copy), each case its own test:
// the parts of delivery (spec 4.1, 4.2) that are functions. How the transport applies them is
// tested against real servers in test/transport.*.test.ts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, retryDelay } from './backoff.js';
import { classifyStatus } from './outcome.js';

/** The spec's retry delay settings, the transport's defaults. */
const BASE_MS = 250;
const CAP_MS = 5000;

interface DeliveryCase {
  id: string;
  note: string;
  op: 'classify' | 'retry_after' | 'backoff' | 'retry_delay';
  input: {
    status?: number | null;
    value?: string | null;
    now_ms?: number;
    attempt?: number;
    random?: number;
    retry_after?: string | null;
  };
  expected: Record<string, unknown>;
}

const path = fileURLToPath(new URL('../../../../spec/vectors/delivery.json', import.meta.url));
const { cases } = JSON.parse(readFileSync(path, 'utf8')) as { cases: DeliveryCase[] };

describe('spec/vectors/delivery.json', () => {
  it.each(cases.map((c) => [c.id, c] as const))('%s', (_, c) => {
    expect(run(c), c.note).toEqual(c.expected);
  });
});

function run(c: DeliveryCase): Record<string, unknown> {
  const { input } = c;
  switch (c.op) {
    case 'classify':
      return { outcome: classifyStatus(input.status ?? null) };
    case 'retry_after':
      return { delay_ms: parseRetryAfter(input.value, input.now_ms) };
    case 'backoff':
      return { delay_ms: backoffDelay(input.attempt!, BASE_MS, CAP_MS, () => input.random!) };
    case 'retry_delay':
      return {
        delay_ms: retryDelay(
          input.attempt!,
          input.retry_after,
          input.now_ms!,
          () => input.random!,
          BASE_MS,
          CAP_MS,
        ),
      };
    default:
      throw new Error(`unknown op ${String(c.op)} in ${c.id}`);
  }
}
