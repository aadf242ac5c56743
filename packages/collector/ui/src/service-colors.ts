// Colours for services: each service on screen its own, from a palette of hues far enough apart
// to tell at a glance. A hash of the name alone gives two services the same colour often
// enough (`api` and `frontend` both landed on magenta), so a service gets the first free slot
// of the palette from its hashed one, and keeps it for the page's life: every view of one tab
// shows a service in the same colour. A view that knows its services (the trace list) hands
// them over sorted first, so the same set gets the same colours whatever the rows' order.

/** Twelve hues 30° apart, then twelve between them: the first twelve services never share. */
const PALETTE_HUES = [
  210, 30, 150, 330, 90, 270, 0, 180, 60, 240, 120, 300, 225, 45, 165, 345, 105, 285, 15, 195, 75,
  255, 135, 315,
];

/** The hue a name hashes to (0-359). */
export function serviceHue(service: string): number {
  let hash = 0;
  for (let i = 0; i < service.length; i += 1) hash = (hash * 31 + service.charCodeAt(i)) >>> 0;
  return hash % 360;
}

const assigned = new Map<string, number>();
const taken = new Set<number>();

/** The palette hue of a service, given it on first use. */
export function serviceDisplayHue(service: string): number {
  const known = assigned.get(service);
  if (known !== undefined) return known;
  let hue: number;
  if (taken.size >= PALETTE_HUES.length) {
    // More services than the palette holds: some share a hue.
    hue = PALETTE_HUES[serviceHue(service) % PALETTE_HUES.length]!;
  } else {
    // The first twelve free slots hold hues 30° apart; the rest fill in between.
    const band = taken.size < 12 ? 12 : PALETTE_HUES.length;
    let slot = serviceHue(service) % band;
    while (taken.has(slot)) slot = (slot + 1) % band;
    taken.add(slot);
    hue = PALETTE_HUES[slot]!;
  }
  assigned.set(service, hue);
  return hue;
}

/** A service's colour, readable on light and dark. */
export function serviceColor(service: string): string {
  return `hsl(${serviceDisplayHue(service)} 60% 50%)`;
}

/** Black or white, whichever reads better on {@link serviceColor} (WCAG contrast). */
export function textOnServiceColor(service: string): '#000' | '#fff' {
  // hsl(h 60% 50%) to linear sRGB, then relative luminance.
  const h = serviceDisplayHue(service);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = 0.5 - 0.3 * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * f(0) + 0.7152 * f(8) + 0.0722 * f(4);
  // Contrast with white (1.05 / (L + 0.05)) against with black ((L + 0.05) / 0.05).
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#fff' : '#000';
}

/** The colours of `services` (given their slots sorted, so a set always gets the same). */
export function assignServiceColors(services: Iterable<string>): Map<string, string> {
  const names = [...new Set(services)].sort();
  return new Map(names.map((name) => [name, serviceColor(name)]));
}
