import { serviceColor } from '../format.js';

// A row of service chips that stays on one line: the first `max` services, then "+N more"
// naming the others on hover (and to screen readers). Each chip's name may be cut by the
// layout: its title holds it in full.

export function ServiceChips({
  services,
  max = 3,
  colors,
}: {
  services: string[];
  max?: number;
  /** Colours given to the services on screen (service-colors.ts); else each hashed. */
  colors?: Map<string, string>;
}) {
  const shown = services.length > max + 1 ? services.slice(0, max) : services;
  const rest = services.slice(shown.length);
  return (
    <span class="chips one-line">
      {shown.map((s) => (
        <span
          key={s}
          class="chip"
          title={s}
          style={{ borderColor: colors?.get(s) ?? serviceColor(s) }}
        >
          {s}
        </span>
      ))}
      {rest.length > 0 && (
        <span class="chip more-chip" data-testid="more-services" title={`also ${rest.join(', ')}`}>
          +{rest.length} more
        </span>
      )}
    </span>
  );
}
