import { HttpError } from './errors.js';

/**
 * Runs at most `slots` tasks at once; a bounded number wait their turn, and beyond that a
 * request is answered 503 (clients retry). Bounds the memory of concurrent gzip decompression
 * (each up to its limit) and the event-loop time of concurrent heavy reads.
 *
 * @example
 * const gate = new ConcurrencyGate(4, 64, 'gzip bodies are being decompressed');
 * const text = await gate.run(() => gunzipLimited(raw, limit));
 */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly slots: number,
    private readonly maxWaiting: number,
    /** What the tasks are, for the 503 message. */
    private readonly what = 'requests are being served',
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new HttpError(
          503,
          'busy',
          `${this.active} ${this.what} and ${this.waiting.length} wait: retry later`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter (active stays the same).
      if (next) next();
      else this.active--;
    }
  }
}
