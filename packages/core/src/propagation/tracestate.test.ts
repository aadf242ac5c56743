import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTracestate } from './tracestate.js';

// Accepted and rejected forms are pinned by spec/vectors/extract.json.
describe('parseTracestate', () => {
  it('gives null for nothing to pass on', () => {
    expect(parseTracestate('')).toEqual({ ok: true, value: null });
    expect(parseTracestate([])).toEqual({ ok: true, value: null });
    expect(parseTracestate([' ', ',,'])).toEqual({ ok: true, value: null });
  });

  it('normalising is idempotent', () => {
    const member = fc
      .tuple(
        fc.stringMatching(/^[a-z][a-z0-9_\-*/]{0,8}$/),
        fc.stringMatching(/^[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,8}$/),
      )
      .map(([key, value]) => `${key}=${value}`);
    const raw = fc
      .array(fc.tuple(member, fc.constantFrom('', ' ', '\t', ' ,')), { maxLength: 40 })
      .map((parts) => parts.map(([m, pad]) => `${pad}${m}${pad}`).join(','));
    fc.assert(
      fc.property(raw, (value) => {
        const first = parseTracestate(value);
        if (!first.ok) return;
        expect(parseTracestate(first.value ?? '')).toEqual(first);
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string())), (value) => {
        expect(typeof parseTracestate(value).ok).toBe('boolean');
      }),
    );
  });
});
