/**
 * Where Raceway's own messages go. Replace it with the `logger` option (pino, winston, a test
 * spy): any object with these three methods. Each receives one line without a trailing newline.
 */
export interface RacewayLogger {
  debug(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const PREFIX = '[raceway]';

/** The default logger: `console`, every line prefixed with `[raceway]`. */
export const consoleLogger: RacewayLogger = Object.freeze({
  debug: (message: string) => console.debug(`${PREFIX} ${message}`),
  warn: (message: string) => console.warn(`${PREFIX} ${message}`),
  error: (message: string) => console.error(`${PREFIX} ${message}`),
});

/**
 * The logger and debug switch a tracer's parts share. Messages never throw into the
 * application: a logger that throws is ignored for that message.
 */
export class Diagnostics {
  readonly debugEnabled: boolean;
  readonly #logger: RacewayLogger;
  readonly #notPropagated = new Set<string>();

  constructor(logger: RacewayLogger = consoleLogger, debugEnabled = false) {
    this.#logger = logger;
    this.debugEnabled = debugEnabled;
  }

  /** Logged only with `debug: true` / `RACEWAY_DEBUG=1`. */
  debug(message: string): void {
    if (this.debugEnabled) this.#call('debug', message);
  }

  warn(message: string): void {
    this.#call('warn', message);
  }

  error(message: string): void {
    this.#call('error', message);
  }

  /**
   * A client call went out without trace headers because `propagateTo` does not allow its host:
   * logged once per host, in debug mode, so that a missing hop in a trace can be explained.
   */
  notPropagated(target: URL): void {
    if (!this.debugEnabled) return;
    const host = target.host;
    // Bounded: a process that calls millions of distinct hosts stops noting them.
    if (this.#notPropagated.has(host) || this.#notPropagated.size >= 1000) return;
    this.#notPropagated.add(host);
    this.debug(
      `no trace headers sent to ${host}: not allowed by propagateTo (calls are still recorded; add the host to propagateTo or RACEWAY_PROPAGATE_TO to follow the trace there)`,
    );
  }

  #call(level: keyof RacewayLogger, message: string): void {
    try {
      this.#logger[level](message);
    } catch {
      // A broken logger must not break the application.
    }
  }
}
