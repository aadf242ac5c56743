/**
 * Delay before retry number `attempt` (0 for the first retry): "full jitter", a random delay
 * between 0 and min(cap, base * 2^attempt). Randomising the whole interval spreads the retries
 * of many processes that lost the collector at the same moment, instead of having them all
 * come back in waves.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * A `Retry-After` header (delay in seconds, or an HTTP date) as milliseconds from `nowMs`;
 * null when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | undefined,
  nowMs: number = Date.now(),
): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names a weekday and a month; Date.parse alone would take '-1' as a year.
  if (!/[A-Za-z]/.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}
