import { Graph, layout } from '@dagrejs/dagre';
import { useMemo } from 'preact/hooks';
import { formatMs, formatPercent, plural, serviceColor } from '../format.js';
import { href, navigate } from '../router.js';
import type { DependencyEdge, DependencyNode } from '../types.js';

// The service graph in layers (dagre, left to right): callers before callees, edges labelled
// with calls, errors and p99 on one line (p50 too on hover). Clicking a service opens the
// traces through it. Sizes are tight and each label's room is reserved in the layout, so a
// graph of twenty services stays about a screen tall with no label over another.

const NODE_H = 36;
// Room for a line of text above the edge that runs through the label's middle.
const LABEL_H = 26;
/** Average advance of a character of the graph's text, px (11-13 px sans-serif). */
const CHAR_W = 6.6;
const NAME_MAX = 34;

/** A node's width for its (possibly cut) name. */
const nodeWidth = (name: string) => Math.max(90, Math.min(NAME_MAX, name.length) * 7.6 + 26);
const shortName = (name: string) =>
  name.length > NAME_MAX ? `${name.slice(0, NAME_MAX - 1)}…` : name;

/** The one line an edge shows. */
function edgeLabel(edge: DependencyEdge): string {
  const errors =
    edge.errors > 0
      ? ` · ${plural(edge.errors, 'error')} (${formatPercent(edge.errorRate ?? edge.errors / edge.calls)})`
      : '';
  return `${plural(edge.calls, 'call')} · p99 ${formatMs(edge.latencyMs.p99)}${errors}`;
}

interface Laid {
  nodes: Array<DependencyNode & { x: number; y: number; width: number }>;
  edges: Array<
    DependencyEdge & { points: Array<{ x: number; y: number }>; label: { x: number; y: number } }
  >;
  width: number;
  height: number;
}

function lay(nodes: DependencyNode[], edges: DependencyEdge[]): Laid {
  const graph = new Graph({ multigraph: false });
  graph.setGraph({
    rankdir: 'LR',
    nodesep: 10,
    ranksep: 40,
    edgesep: 6,
    marginx: 16,
    marginy: 16,
  });
  graph.setDefaultEdgeLabel(() => ({}));
  const names = new Set(nodes.map((n) => n.name));
  for (const edge of edges) {
    // Edges name their ends; a node the answer left out is still drawn.
    for (const name of [edge.from, edge.to]) names.add(name);
  }
  for (const name of names) graph.setNode(name, { width: nodeWidth(name), height: NODE_H });
  for (const edge of edges) {
    const width = edgeLabel(edge).length * CHAR_W + 8;
    graph.setEdge(edge.from, edge.to, { width, height: LABEL_H, labelpos: 'c' });
  }
  layout(graph);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  return {
    nodes: [...names].map((name) => {
      const at = graph.node(name) as { x: number; y: number };
      return {
        name,
        uninstrumented: byName.get(name)?.uninstrumented ?? false,
        x: at.x,
        y: at.y,
        width: nodeWidth(name),
      };
    }),
    edges: edges.map((edge) => {
      const at = graph.edge(edge.from, edge.to) as {
        points: Array<{ x: number; y: number }>;
        x: number;
        y: number;
      };
      return { ...edge, points: at.points, label: { x: at.x, y: at.y } };
    }),
    width: (graph.graph().width as number) ?? 600,
    height: (graph.graph().height as number) ?? 300,
  };
}

export function DependencyGraph({
  nodes,
  edges,
}: {
  nodes: DependencyNode[];
  edges: DependencyEdge[];
}) {
  const laid = useMemo(() => lay(nodes, edges), [nodes, edges]);
  const open = (name: string) => navigate(href('/traces', { service: name }));
  return (
    // biome-ignore lint/a11y/useSemanticElements: an <svg> cannot be a <fieldset>
    <svg
      class="dep-graph"
      data-testid="dependency-graph"
      width="100%"
      style={{ maxWidth: `${laid.width}px` }}
      viewBox={`0 0 ${laid.width} ${laid.height}`}
      // A group, not an image: its services are buttons the keyboard reaches.
      role="group"
      aria-label="Service dependency graph"
    >
      <defs>
        <marker
          id="dep-arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="8"
          markerHeight="8"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
        </marker>
      </defs>
      {laid.edges.map((edge) => (
        <g
          key={`${edge.from}->${edge.to}`}
          class={edge.errors > 0 ? 'dep-edge error' : 'dep-edge'}
          data-edge={`${edge.from}->${edge.to}`}
        >
          <polyline
            points={edge.points.map((p) => `${p.x},${p.y}`).join(' ')}
            marker-end="url(#dep-arrow)"
            style={{ strokeWidth: `${Math.min(6, 1 + Math.log10(1 + edge.calls))}px` }}
          />
          <title>
            {`${edge.from} → ${edge.to}: ${plural(edge.calls, 'call')}, ${plural(edge.errors, 'error')}, p50 ${formatMs(edge.latencyMs.p50)}, p99 ${formatMs(edge.latencyMs.p99)}`}
          </title>
          <text
            x={edge.label.x}
            y={edge.label.y - 4}
            text-anchor="middle"
            class={edge.errors > 0 ? 'dep-label error' : 'dep-label'}
          >
            {edgeLabel(edge)}
          </text>
        </g>
      ))}
      {laid.nodes.map((node) => (
        // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
        <g
          key={node.name}
          class={node.uninstrumented ? 'dep-node uninstrumented' : 'dep-node'}
          data-testid="dep-node"
          data-service={node.name}
          role="button"
          // SVG attributes keep their case: `tabIndex` would be an unknown attribute.
          tabindex={0}
          aria-label={`${node.name}${node.uninstrumented ? ' (uninstrumented)' : ''}: show its traces`}
          onClick={() => open(node.name)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              open(node.name);
            }
          }}
        >
          {node.name.length > NAME_MAX && <title>{node.name}</title>}
          <rect
            x={node.x - node.width / 2}
            y={node.y - NODE_H / 2}
            width={node.width}
            height={NODE_H}
            rx={8}
            style={{ stroke: node.uninstrumented ? undefined : serviceColor(node.name) }}
          />
          <text
            x={node.x}
            y={node.y + (node.uninstrumented ? -2 : 5)}
            text-anchor="middle"
            class="dep-name"
          >
            {shortName(node.name)}
          </text>
          {node.uninstrumented && (
            <text x={node.x} y={node.y + 12} text-anchor="middle" class="dep-sub">
              uninstrumented
            </text>
          )}
        </g>
      ))}
    </svg>
  );
}
