import type { EventError } from './event.js';
import type { Span, SpanKind, SpanTree } from './spans.js';

/** Where an error started and which services it travelled up through. */
export interface ErrorPropagation {
  origin: {
    service: string;
    spanId: string;
    kind: SpanKind;
    status?: number;
    error?: EventError;
    /** The error came from a host that reported no span. */
    uninstrumented?: true;
  };
  /** Services from the origin up, each once in a row (the origin first). */
  path: string[];
  /** The first caller that answered without failing, if any. */
  handledBy: string | null;
  /** The root span failed with it. */
  reachedRoot: boolean;
  traceId: string;
  count: number;
  explanation: string;
}

/**
 * Where each error of a trace started (a failing span with no failing descendant; a failing
 * call nobody answered starts at the callee's host) and the services it travelled up through,
 * up to the caller that answered without failing, or the root.
 */
export function errorPropagation(
  tree: SpanTree,
  spans: readonly Span[],
  traceId: string,
): ErrorPropagation[] {
  // A failing span with no failing descendant is where an error started.
  const failingBelow = new Set<Span>();
  for (const span of topDown(tree).reverse()) {
    if (span.parent && (span.failed || failingBelow.has(span))) failingBelow.add(span.parent);
  }
  const out: ErrorPropagation[] = [];
  for (const span of spans) {
    if (!span.failed || failingBelow.has(span)) continue;
    const unanswered = span.kind === 'client' && span.children.length === 0;
    const originService = unanswered ? (span.host ?? span.service) : span.service;
    const path = [originService];
    let handledBy: string | null = null;
    let top: Span = span;
    for (let at = span.parent; at !== null; at = at.parent) {
      if (!at.failed) {
        handledBy = at.service;
        break;
      }
      top = at;
      if (path[path.length - 1] !== at.service) path.push(at.service);
    }
    const origin: ErrorPropagation['origin'] = {
      service: originService,
      spanId: span.spanId,
      kind: span.kind,
    };
    if (span.status !== undefined) origin.status = span.status;
    if (span.error) origin.error = span.error;
    if (unanswered) origin.uninstrumented = true;
    const reachedRoot = handledBy === null && top === tree.root;
    const what = span.error
      ? `${span.error.type}: ${span.error.message}`
      : span.status !== undefined
        ? `status ${span.status}`
        : 'a failure';
    const through =
      path.length > 1 ? ` and travelled up through ${path.slice(1).join(' -> ')}` : '';
    const end =
      handledBy !== null
        ? `; ${handledBy} handled it`
        : reachedRoot
          ? '; the request failed with it'
          : '';
    out.push({
      origin,
      path,
      handledBy,
      reachedRoot,
      traceId,
      count: 1,
      explanation: `the error started in ${originService}${unanswered ? ' (uninstrumented)' : ''} (${what})${through}${end}`,
    });
  }
  return out;
}

/** Every span of the tree, each after its parent. */
function topDown(tree: SpanTree): Span[] {
  const out: Span[] = [...tree.roots];
  for (let i = 0; i < out.length; i++) for (const child of out[i]!.children) out.push(child);
  return out;
}
