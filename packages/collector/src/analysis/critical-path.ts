import { compareIds } from './accesses.js';
import { shiftIntoWindow } from './clock-skew.js';
import type { Event } from './event.js';
import { buildSpanTree, type Span, type SpanKind, type SpanTree } from './spans.js';

/** One stretch of the critical path: a span doing its own work, nothing below it. */
export interface CriticalPathSection {
  spanId: string;
  /** Who the time is attributed to (an uninstrumented callee's host for a call nobody answered). */
  service: string;
  kind: SpanKind;
  name: string;
  /** From the trace start, in ms. */
  startMs: number;
  durationMs: number;
}

/** A span on the critical path. */
export interface CriticalPathSegment {
  spanId: string;
  parentSpanId: string | null;
  service: string;
  instance: string;
  kind: SpanKind;
  name: string;
  /** The span's start from the trace start, and its duration (skew-adjusted, clipped to its parent), in ms. */
  startMs: number;
  durationMs: number;
  /** The part of the path this span spends itself (not waiting for a child on the path), in ms. */
  selfMs: number;
}

/** How much of the critical path a service accounts for. */
export interface ServiceContribution {
  service: string;
  ms: number;
  /** Of the total duration, 0..100. */
  percent: number;
  /** A host that answered calls without reporting any span. */
  uninstrumented?: true;
}

/** Where the time of a trace went, end to end. */
export interface CriticalPath {
  rootSpanId: string;
  /** The root span's start (as its host recorded it), microseconds since the epoch. */
  traceStartUs: number;
  totalMs: number;
  /** Spans on the path, in the order the path reaches them. */
  segments: CriticalPathSegment[];
  /** The path as consecutive stretches from the root's start to its end. */
  sections: CriticalPathSection[];
  /** Per service, most first. */
  services: ServiceContribution[];
  /** The service to optimise first: the largest share of the path. */
  biggestContributor: string | null;
  /** Whether a span on the path was shifted to fit its caller's window (clock skew between hosts). */
  skewAdjusted: boolean;
}

interface Node {
  span: Span;
  /** How far this span's host clock was moved to fit its caller's window (see `shiftIntoWindow`). */
  shift: number;
  start: number;
  end: number;
  /** Children kept after clipping, latest end first; computed when the walk first enters. */
  kids: Node[] | null;
  next: number;
  parent: Node | null;
}

/**
 * The critical path of a trace: Jaeger's algorithm over the span tree, with CRISP's
 * refinements for clocks that disagree.
 *
 * 1. Clock skew: a server span that does not fit the window of the client call that caused it
 *    is shifted into it (see `shiftIntoWindow`), and its host's other spans move with it.
 * 2. Children are clipped to their parent: a child that outlives its parent (a fire-and-forget
 *    call) only counts while the parent waits; one entirely outside is ignored.
 * 3. Walk back from the end of the root span: at each point, descend into the child that
 *    finished last before that point (in a parallel fan-out, the slowest branch); the time
 *    between that child's end and the point is the parent's own. With no such child left, the
 *    rest of the span back to its start is its own, and the walk returns to the parent at the
 *    span's start.
 *
 * Steps 1 and 2 happen for a span's children when the walk first enters the span, and each
 * child is looked at once afterwards, so the walk is linear in the spans it enters (never more
 * than the trace) after one sort of their children.
 * Time is attributed per service; a call nobody answered counts for the callee's host
 * (an uninstrumented dependency), the network part of an answered call for the caller.
 *
 * @example
 * const path = computeCriticalPath(traceEvents);
 * path?.biggestContributor; // 'inventory'
 * path?.services; // [{ service: 'inventory', ms: 120, percent: 60 }, ...]
 */
export function computeCriticalPath(
  events: readonly Event[],
  tree: SpanTree = buildSpanTree(events),
): CriticalPath | null {
  const root = tree.root;
  if (root === null) return null;
  const rootNode: Node = {
    span: root,
    shift: 0,
    start: root.startUs,
    end: root.endUs,
    kids: null,
    next: 0,
    parent: null,
  };

  const reversed: Array<{ node: Node; start: number; end: number }> = [];
  let current = rootNode;
  let until = rootNode.end;
  for (;;) {
    let chosen: Node | undefined;
    const kids = current.kids ?? expand(current);
    while (current.next < kids.length) {
      const kid = kids[current.next++]!;
      // A child ending after `until` ran alongside the branch we came back from: not on the path.
      if (kid.end <= until) {
        chosen = kid;
        break;
      }
    }
    if (chosen !== undefined) {
      if (chosen.end < until) reversed.push({ node: current, start: chosen.end, end: until });
      current = chosen;
      until = chosen.end;
      continue;
    }
    if (current.start < until) reversed.push({ node: current, start: current.start, end: until });
    if (current.parent === null) break;
    until = current.start;
    current = current.parent;
  }

  const origin = rootNode.start;
  const ms = (us: number) => Math.round(us) / 1000;
  // Forward in time, merging stretches of one span that touch (around a zero-length child).
  const stretches: Array<{ node: Node; start: number; end: number }> = [];
  for (let i = reversed.length - 1; i >= 0; i--) {
    const stretch = reversed[i]!;
    const last = stretches[stretches.length - 1];
    if (last !== undefined && last.node === stretch.node && last.end === stretch.start)
      last.end = stretch.end;
    else stretches.push({ ...stretch });
  }
  const sections: CriticalPathSection[] = [];
  const perSpan = new Map<Node, number>();
  const perService = new Map<string, { us: number; uninstrumented: boolean }>();
  for (const { node, start, end } of stretches) {
    const { service, uninstrumented } = attribution(node.span);
    sections.push({
      spanId: node.span.spanId,
      service,
      kind: node.span.kind,
      name: node.span.name,
      startMs: ms(start - origin),
      durationMs: ms(end - start),
    });
    perSpan.set(node, (perSpan.get(node) ?? 0) + (end - start));
    const acc = perService.get(service) ?? { us: 0, uninstrumented };
    acc.us += end - start;
    perService.set(service, acc);
  }
  const totalUs = rootNode.end - rootNode.start;
  const segments: CriticalPathSegment[] = [...perSpan].map(([node, selfUs]) => ({
    spanId: node.span.spanId,
    parentSpanId: node.parent?.span.spanId ?? null,
    service: node.span.service,
    instance: node.span.instance,
    kind: node.span.kind,
    name: node.span.name,
    startMs: ms(node.start - origin),
    durationMs: ms(node.end - node.start),
    selfMs: ms(selfUs),
  }));
  const services: ServiceContribution[] = [...perService]
    .map(([service, { us, uninstrumented }]) => {
      const entry: ServiceContribution = {
        service,
        ms: ms(us),
        percent: totalUs > 0 ? Math.round((us / totalUs) * 1000) / 10 : 0,
      };
      if (uninstrumented) entry.uninstrumented = true;
      return entry;
    })
    .sort((a, b) => b.ms - a.ms || compareIds(a.service, b.service));
  return {
    rootSpanId: root.spanId,
    traceStartUs: root.startUs,
    totalMs: ms(totalUs),
    segments,
    sections,
    services,
    biggestContributor: services[0]?.service ?? null,
    skewAdjusted: [...perSpan.keys()].some((node) => node.shift !== 0),
  };
}

/**
 * The children of a span the walk entered, shifted for skew, clipped to the span, latest end
 * first. Only spans the walk enters are expanded, so the walk rarely touches the whole tree.
 */
function expand(node: Node): Node[] {
  const span = node.span;
  const kids: Node[] = [];
  for (const child of span.children) {
    // Skew: a span of another instance is fitted into its parent's (shifted, unclipped) window;
    // one of the same instance shares its parent's clock, so its shift.
    const shift =
      child.instance === span.instance
        ? node.shift
        : shiftIntoWindow(child, span.startUs + node.shift, span.endUs + node.shift);
    const start = Math.max(child.startUs + shift, node.start);
    const end = Math.min(child.endUs + shift, node.end);
    if (start > end || child.startUs + shift >= node.end) continue;
    kids.push({ span: child, shift, start, end, kids: null, next: 0, parent: node });
  }
  if (kids.length > 1) {
    kids.sort(
      (a, b) => b.end - a.end || b.start - a.start || compareIds(a.span.spanId, b.span.spanId),
    );
  }
  node.kids = kids;
  return kids;
}

function attribution(span: Span): { service: string; uninstrumented: boolean } {
  if (span.kind === 'client' && span.children.length === 0 && span.host !== undefined) {
    return { service: span.host, uninstrumented: true };
  }
  return { service: span.service, uninstrumented: false };
}
