/** The root sampling rate when neither `sampleRate` nor `RACEWAY_SAMPLE_RATE` is set. */
export const DEFAULT_SAMPLE_RATE = 1;

// Spec 8.3: digits, optionally a dot and more digits. No sign, exponent, hex, `inf` or `nan`,
// which every language's float parser accepts differently.
const RATE_TEXT = /^[0-9]+(?:\.[0-9]+)?$/;

/** True for a usable rate: a number from 0 to 1, both included. */
export function isSampleRate(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value <= 1;
}

/**
 * Reads `RACEWAY_SAMPLE_RATE` (spec 5.3): trimmed of spaces and tabs, a decimal number from 0
 * to 1. Returns `undefined` for an unset or empty value (the default applies) and `null` for a
 * value that is not a rate (a configuration error).
 *
 * @example
 * parseSampleRate(' 0.25 '); // 0.25
 * parseSampleRate(''); // undefined
 * parseSampleRate('1e-1'); // null
 */
export function parseSampleRate(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (trimmed === '') return undefined;
  if (!RATE_TEXT.test(trimmed)) return null;
  const rate = Number(trimmed);
  return isSampleRate(rate) ? rate : null;
}
