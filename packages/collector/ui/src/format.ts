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

/** A stable colour per service (hue from the name), readable on light and dark. */
export function serviceHue(service: string): number {
  let hash = 0;
  for (let i = 0; i < service.length; i += 1) hash = (hash * 31 + service.charCodeAt(i)) >>> 0;
  return hash % 360;
}

export function serviceColor(service: string): string {
  return `hsl(${serviceHue(service)} 60% 50%)`;
}

/** Black or white, whichever reads better on {@link serviceColor} (WCAG contrast). */
export function textOnServiceColor(service: string): '#000' | '#fff' {
  // hsl(h 60% 50%) to linear sRGB, then relative luminance.
  const h = serviceHue(service);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = 0.5 - 0.3 * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * f(0) + 0.7152 * f(8) + 0.0722 * f(4);
  // Contrast with white (1.05 / (L + 0.05)) against with black ((L + 0.05) / 0.05).
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#fff' : '#000';
}

/** A value from an event's data, for display. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '–';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
