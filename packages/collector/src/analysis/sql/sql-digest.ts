import { canonicalParam, digestCanonical } from '@raceway/core/integration';

// The digests of SQL parameters and literals (spec 4.3) are the SDKs' own
// (`@raceway/core`, pinned by spec/vectors/param-digest.json), so that `WHERE id = 42` in one
// service matches `$1` sent as 42 by another. What is the collector's alone: reading numbers
// written in SQL text.

export { DEFAULT_DIGEST_KEY } from '@raceway/core/integration';

/** The canonical form of a JSON-compatible value (`canonicalParam` of the SDKs). */
export const canonicalValue: (value: unknown) => string = canonicalParam;

/** The 16-hex digest of a canonical form. */
export const digestOf: (canonical: string, key?: string) => string = digestCanonical;

/**
 * The canonical form of a number written in SQL text (`42`, `-7`, `1.5`, `1e3`), or null when
 * the text is no number. Integer text is read exactly (a 64-bit id beyond 2^53 keeps its digits).
 */
export function canonicalNumber(text: string | number): string | null {
  const raw = String(text).trim();
  if (/^-?\d+$/.test(raw)) return `i:${BigInt(raw).toString()}`;
  const value = Number(raw);
  if (raw === '' || Number.isNaN(value)) return null;
  return canonicalParam(value);
}
