// How numbers and times read in the UI.

/** `0.42 ms`, `12.3 ms`, `250 ms`, `1.25 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Local wall-clock time of a microsecond timestamp, with milliseconds. */
export function formatTime(tsUs: number): string {
  const date = new Date(tsUs / 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** Date and time, for ranges that may span days. */
export function formatDateTime(tsUs: number): string {
  const date = new Date(tsUs / 1000);
  return `${date.toLocaleDateString()} ${formatTime(tsUs)}`;
}

/** A start time in a list: the time alone today, with the date (ISO order) on other days. */
export function formatStarted(tsUs: number, now = new Date()): string {
  const date = new Date(tsUs / 1000);
  if (date.toDateString() === now.toDateString()) return formatTime(tsUs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${formatTime(tsUs).slice(0, 8)}`;
}

export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 1)} %`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** A clock as `{a#1: 3, b#2: 1}`, components in order. */
export function formatClock(clock: Record<string, number>): string {
  const entries = Object.entries(clock).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

// Service colours live with the palette that keeps them apart (service-colors.ts).
export { serviceColor, serviceHue, textOnServiceColor } from './service-colors.js';

/** A value from an event's data, for display. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '–';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
