import type { RacewayEvent } from '../events.js';
import type { Diagnostics } from '../logger.js';

/** How database queries are recorded (spec 4.3): the `captureQueries`, `captureValues` and `digestKey` options. */
export interface QueryCapture {
  /** False when queries are not recorded (`captureQueries: false`, or a disabled tracer). */
  readonly enabled: boolean;
  /** Raw parameter values are recorded beside their digests. */
  readonly values: boolean;
  /** The HMAC key of parameter and result digests. */
  readonly digestKey: string;
}

/**
 * What an {@link ExecutionContext} needs from whoever made it: where its events go and the
 * decisions it cannot take alone. A narrow interface rather than the whole tracer, so that the
 * context sits on a lower floor than the tracer (no import cycle) and can be tested with a
 * stub. The {@link Tracer} is the one implementation in the SDK.
 */
export interface ContextOwner {
  /** The service name its events carry. */
  readonly service: string;
  /** The process of the service its events carry. */
  readonly instance: string;
  /** A disabled owner records nothing and propagates nothing. */
  readonly disabled: boolean;
  /** Where diagnostics go (hosts that get no trace headers, say). */
  readonly diagnostics: Diagnostics;
  /** Takes one recorded event (to the transport). */
  emit(event: RacewayEvent): void;
  /** How database queries are recorded. */
  readonly queryCapture: QueryCapture;
  /** Whether an outgoing call to `url` may carry trace headers (spec 6). */
  shouldPropagate(url: URL | string): boolean;
}
