import { type BrokenChain, brokenChains } from '../broken-chains.js';
import { type SkewPair, skewPairs } from '../clock-skew.js';
import { type ErrorPropagation, errorPropagation } from '../error-propagation.js';
import { type ServiceTime, serviceTimes } from '../service-times.js';
import type { Span } from '../spans.js';

/**
 * What the diagnostics find at one span, computed from that span, its children and (for
 * errors) its failing ancestors: the unit the trace's diagnostics are kept and updated in.
 * A unit is never changed: when what it was computed from changes, a new one replaces it.
 */
export interface SpanUnit {
  span: Span;
  /** The span's place in the walk the diagnostics make (start time, then span id). */
  startUs: number;
  spanId: string;
  brokenChains: BrokenChain[];
  skew: SkewPair[];
  times: ServiceTime[];
  /** The span fails and nothing below it does: an error starts there. */
  origin: boolean;
  /** Computed for `errorsRoot` (whether an error reaches the trace's root depends on which span that is). */
  errors: ErrorPropagation[];
  errorsRoot: Span | null | undefined;
}

/**
 * What most units hold: nothing. Units are never changed, so they share one empty list (a
 * long trace keeps a unit per span).
 */
const NONE: never[] = [];
const orNone = <T>(list: T[]): T[] => (list.length === 0 ? NONE : list);

/**
 * The unit of `span` as it is now (its children and parent linked). The functions of the
 * whole-trace diagnostics walk spans one at a time: called on one span, they give what they
 * find at that span.
 */
export function spanUnit(
  span: Span,
  failingBelow: boolean,
  traceId: string,
  toleranceUs: number,
): SpanUnit {
  return {
    span,
    startUs: span.startUs,
    spanId: span.spanId,
    brokenChains: orNone(brokenChains([span], traceId)),
    skew: span.kind === 'client' ? orNone(skewPairs([span], toleranceUs)) : NONE,
    times: span.kind === 'server' ? orNone(serviceTimes([span])) : NONE,
    origin: span.failed && !failingBelow,
    errors: NONE,
    errorsRoot: undefined,
  };
}

/** The error that starts at a unit's span (if any), for the trace's current root. */
export function unitErrors(
  unit: SpanUnit,
  traceRoot: Span | null,
  traceId: string,
): ErrorPropagation[] {
  if (!unit.origin) return [];
  if (unit.errorsRoot !== traceRoot) {
    // No roots to walk: the span is known to be an origin, only its way up is looked at.
    unit.errors = orNone(
      errorPropagation({ spans: [], roots: [], root: traceRoot }, [unit.span], traceId),
    );
    unit.errorsRoot = traceRoot;
  }
  return unit.errors;
}
