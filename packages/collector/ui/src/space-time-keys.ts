import type { SpaceTime } from './space-time-model.js';

// The arrow keys in the space-time diagram. The diagram is one Tab stop (its events would be
// thousands, and only those in view are drawn): up and down follow an execution context's
// events, left and right go to the nearest event of the next context that has one, Home and
// End to the first and last event in happens-before order.

export const EVENT_KEYS: Record<string, 'up' | 'down' | 'left' | 'right' | 'first' | 'last'> = {
  ArrowUp: 'up',
  ArrowDown: 'down',
  ArrowLeft: 'left',
  ArrowRight: 'right',
  Home: 'first',
  End: 'last',
};

export type EventStep = (typeof EVENT_KEYS)[string];

/** The index in `model.events` a step from the event at `from` lands on (`from` at an edge). */
export function stepEvent(model: SpaceTime, from: number, step: EventStep): number {
  const events = model.events;
  const here = events[from];
  if (!here) return from;
  if (step === 'first') return 0;
  if (step === 'last') return events.length - 1;
  if (step === 'up' || step === 'down') {
    // Events are in happens-before order, so a context's are in row order: the nearest one of
    // the same column before or after.
    const by = step === 'down' ? 1 : -1;
    for (let i = from + by; i >= 0 && i < events.length; i += by) {
      if (events[i]!.column === here.column) return i;
    }
    return from;
  }
  // The nearest column on that side that has events, and its event nearest in row.
  const right = step === 'right';
  let column: number | null = null;
  for (const e of events) {
    const beyond = right ? e.column > here.column : e.column < here.column;
    if (beyond && (column === null || (right ? e.column < column : e.column > column))) {
      column = e.column;
    }
  }
  if (column === null) return from;
  let best = from;
  let distance = Number.POSITIVE_INFINITY;
  events.forEach((e, i) => {
    const d = Math.abs(e.row - here.row);
    if (e.column === column && d < distance) {
      best = i;
      distance = d;
    }
  });
  return best;
}
