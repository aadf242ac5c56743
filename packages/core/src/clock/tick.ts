/**
 * An increment of a context's own component taken ahead of its event: the clock snapshot the
 * event will carry. Server adapters take it when the response headers are written, so that the
 * `X-Raceway-VC` response header is the `response_sent` clock (spec 2.6) although the event is
 * recorded when the response finishes.
 */
export interface ClockTick {
  /** The snapshot: at most 64 entries (spec 3.4). */
  readonly clock: Readonly<Record<string, number>>;
  /** Entries missing from the snapshot: received missing, or cut to fit 64. */
  readonly dropped: number;
  /** The snapshot in canonical form (spec 3.3), without the `~dropped` marker. */
  readonly json: string;
  /** The snapshot as `X-Raceway-VC` carries it: {@link ClockTick.json} with the marker. */
  readonly header: string;
}
