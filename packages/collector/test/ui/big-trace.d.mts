import type { StoredEvent } from '../../src/event.js';

/** The 18 services the frontend calls. */
export const SERVICES: string[];

/**
 * A frontend request calling `fanOut` services, each calling `leaves` more; spans =
 * 1 + 2 × fanOut × (1 + leaves). Two execution contexts per service.
 */
export function makeTrace(
  fanOut: number,
  leaves: number,
  startUs?: number,
): { traceId: string; events: StoredEvent[]; spans: number };
