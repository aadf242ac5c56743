import type { Diagnostics } from '../logger.js';

/** At most one warning of a kind per interval, so that a dead collector cannot flood the log. */
export const WARNING_INTERVAL_MS = 60_000;

type Kind = 'failing' | 'dropped';

/**
 * What the transport says about delivery without debug mode (spec 4.2, Warnings): the first
 * problem of each kind (failing, dropping) at once, with the collector's URL and what to check;
 * then at most one line of that kind a minute, counting what it left out. A wrong `RACEWAY_URL`
 * must not look like a working application with an empty collector. (Debug mode adds a line
 * for every problem, with counts.)
 */
export class DeliveryWarnings {
  readonly #endpoint: string;
  readonly #log: Diagnostics;
  readonly #now: () => number;
  readonly #last = new Map<Kind, number>();
  readonly #silenced = new Map<Kind, number>();
  #warnedOutage = false;

  constructor(endpoint: string, log: Diagnostics, now: () => number = Date.now) {
    this.#endpoint = endpoint;
    this.#log = log;
    this.#now = now;
  }

  /** A `retry` answer or no answer: the events are kept and sent again. */
  failing(problem: string, held: number): void {
    const said = this.#say(
      'failing',
      `cannot deliver events to ${this.#endpoint} (${problem}); ${held} event(s) held and retried while the queue has room. Check that the collector runs there and that RACEWAY_URL (serverUrl) points to it`,
    );
    this.#warnedOutage ||= said;
  }

  /** Events lost for good (spec 4.1): refused, unusable, retries exhausted, queue full. */
  dropped(count: number, problem: string, status?: number): void {
    const hint =
      status === 401 ? "; check RACEWAY_API_KEY (apiKey) against the collector's keys" : '';
    this.#say('dropped', `${count} event(s) for ${this.#endpoint} dropped: ${problem}${hint}`);
  }

  /** The collector answered again: said only when the outage was warned about. */
  recovered(failures: number): void {
    if (this.#warnedOutage) {
      this.#log.warn(
        `collector at ${this.#endpoint} reachable again after ${failures} failed attempt(s)`,
      );
    }
    this.#warnedOutage = false;
  }

  #say(kind: Kind, message: string): boolean {
    const now = this.#now();
    const last = this.#last.get(kind);
    if (last !== undefined && now - last < WARNING_INTERVAL_MS) {
      this.#silenced.set(kind, (this.#silenced.get(kind) ?? 0) + 1);
      return false;
    }
    const silenced = this.#silenced.get(kind) ?? 0;
    this.#silenced.delete(kind);
    this.#last.set(kind, now);
    this.#log.warn(
      silenced > 0
        ? `${message} (${silenced} more delivery problem(s) since the last warning)`
        : message,
    );
    return true;
  }
}
