import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

// Accepted and rejected forms are pinned by spec/vectors/extract.json.
describe('traceparent', () => {
  it('formats version 00 with the flags given', () => {
    expect(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', '02')).toBe(
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02',
    );
  });

  it('parses the fields of a higher version and ignores its tail', () => {
    expect(
      parseTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-tail'),
    ).toEqual({
      version: 'cc',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '09',
    });
  });

  it('parses what it formats', () => {
    const hex = (digits: number) =>
      fc.stringMatching(new RegExp(`^[0-9a-f]{${digits}}$`)).filter((id) => /[1-9a-f]/.test(id));
    fc.assert(
      fc.property(
        hex(32),
        hex(16),
        fc.constantFrom('00', '01', '02', '03'),
        (traceId, spanId, flags) => {
          expect(parseTraceparent(formatTraceparent(traceId, spanId, flags))).toEqual({
            version: '00',
            traceId,
            parentId: spanId,
            flags,
          });
        },
      ),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ minLength: 55, maxLength: 70 })), (value) => {
        const parsed = parseTraceparent(value);
        if (parsed !== null) expect(parsed.traceId).toMatch(/^[0-9a-f]{32}$/);
      }),
    );
    expect(parseTraceparent(undefined as unknown as string)).toBeNull();
  });
});
