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
 * The delay before retry number `attempt` (spec 4.2): the jitter of {@link backoffDelay},
 * raised to what the collector's `Retry-After` header asks, and never above `capMs`: a
 * collector asking for minutes does not get to hold the events that long (the queue is bounded
 * and the process may exit).
 */
export function retryDelay(
  attempt: number,
  retryAfterHeader: string | null | undefined,
  nowMs: number,
  random: () => number,
  baseMs: number,
  capMs: number,
): number {
  const asked = parseRetryAfter(retryAfterHeader, nowMs) ?? 0;
  return Math.min(capMs, Math.max(asked, backoffDelay(attempt, baseMs, capMs, random)));
}

/**
 * A `Retry-After` header (delay in seconds, or an HTTP date) as milliseconds from `nowMs`;
 * null when absent or unreadable (spec 4.2: negative, a fraction, empty, or a date without a
 * weekday and a month name).
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number = Date.now(),
): number | null {
  if (value === null || value === undefined) return null;
  // Only the whitespace HTTP allows around a field value (spaces and tabs).
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = parseHttpDate(text, nowMs);
  return date === null ? null : Math.max(0, date - nowMs);
}

const DAY = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
const LONG_DAY = 'Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(?<month>${MONTHS.join('|')})`;
const TIME = '(?<hours>\\d\\d):(?<minutes>\\d\\d):(?<seconds>\\d\\d)';

/** The three forms of an HTTP date a recipient must accept (RFC 9110 5.6.7), all in UTC. */
const HTTP_DATE_FORMS = [
  // `Sun, 06 Nov 1994 08:49:37 GMT`: what servers send.
  new RegExp(`^(?:${DAY}), (?<day>\\d\\d) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`),
  // `Sunday, 06-Nov-94 08:49:37 GMT`: obsolete (RFC 850).
  new RegExp(`^(?:${LONG_DAY}), (?<day>\\d\\d)-${MONTH}-(?<year>\\d\\d) ${TIME} GMT$`),
  // `Sun Nov  6 08:49:37 1994`: obsolete (C's asctime).
  new RegExp(`^(?:${DAY}) ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`),
];

/**
 * An HTTP date as milliseconds since the epoch, or null. Not `Date.parse`: it takes `-1` or
 * `2015-10-21` for dates, and reads a date without a zone, such as asctime's, in the local
 * time zone.
 */
function parseHttpDate(text: string, nowMs: number): number | null {
  for (const form of HTTP_DATE_FORMS) {
    const fields = form.exec(text)?.groups;
    if (fields !== undefined) return utcDate(fields, nowMs);
  }
  return null;
}

/** The fields of an HTTP date as milliseconds since the epoch, or null for a date that does not exist. */
function utcDate(fields: Record<string, string>, nowMs: number): number | null {
  const month = MONTHS.indexOf(fields.month as string);
  const day = Number(fields.day);
  const [hours, minutes, seconds] = [fields.hours, fields.minutes, fields.seconds].map(Number);
  let year = Number(fields.year);
  if ((fields.year as string).length === 2) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    year += 2000;
    if (year > new Date(nowMs).getUTCFullYear() + 50) year -= 100;
  }
  const ms = Date.UTC(year, month, day, hours, minutes, seconds);
  // Date.UTC carries an overflow into the next field (31 Feb becomes 3 Mar): not a date.
  const date = new Date(ms);
  const exists =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month &&
    date.getUTCDate() === day &&
    (hours as number) < 24 &&
    (minutes as number) < 60 &&
    (seconds as number) < 60;
  return exists ? ms : null;
}
