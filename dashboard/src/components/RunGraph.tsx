// A run's graph: nodes laid out by dagre (left to right), drawn by React Flow, coloured by status.
// The failed step is red; a retried step says how many attempts it took; a child run links to it.
import dagre from "@dagrejs/dagre";
import {
  Background,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import type { GraphNodeData, RunGraphData } from "../lib/run-graph.js";
import { Link, runPath } from "../router.js";
import { StatusBadge } from "./common.js";

type StepNode = Node<GraphNodeData & Record<string, unknown>, "step">;

const NODE_W = 200;
const NODE_H = 64;

const STATUS_TEXT: Record<string, string> = {
  completed: "completed",
  failed: "failed",
  retrying: "retrying",
  waiting: "waiting",
  running: "running",
  pending: "pending",
  cancelled: "cancelled",
  compensated: "compensated",
  none: "not reached",
};

const StepNodeView = memo(function StepNodeView({ data }: NodeProps<StepNode>) {
  const small = data.kind === "join";
  return (
    <div
      className={`gnode n-${data.status} k-${data.kind}`}
      data-testid={`graph-node-${data.label}`}
      data-status={data.status}
      title={small ? "join" : `${data.label}: ${STATUS_TEXT[data.status] ?? data.status}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      {!small && (
        <>
          <div className="gname">{data.label}</div>
          {data.kind !== "start" && data.kind !== "end" && (
            <div className="gmeta">
              <span>{data.kind}</span>
              <span>· {STATUS_TEXT[data.status] ?? data.status}</span>
              {data.attempts > 1 && <span className="retried">· {data.attempts} attempts</span>}
            </div>
          )}
          {data.status === "failed" && data.errorMessage && <div className="gerr">{data.errorMessage}</div>}
          {data.childRunId && (
            <Link to={runPath(data.childRunId)} className="nodrag nopan child-link">
              open child run →
            </Link>
          )}
        </>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { step: StepNodeView };

function layout(graph: RunGraphData): { nodes: StepNode[]; edges: Edge[]; width: number; height: number } {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    const small = n.kind === "join";
    const short = n.kind === "start" || n.kind === "end";
    g.setNode(n.id, { width: small ? 16 : short ? 110 : NODE_W, height: small ? 16 : short ? 40 : NODE_H });
  }
  graph.edges.forEach((e, i) => {
    if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to, {}, `e${i}`);
  });
  dagre.layout(g);
  const size = g.graph() as { width?: number; height?: number };
  const nodes: StepNode[] = graph.nodes.map((n) => {
    const p = g.node(n.id) as { x: number; y: number; width: number; height: number };
    return {
      id: n.id,
      type: "step",
      position: { x: p.x - p.width / 2, y: p.y - p.height / 2 },
      data: { ...n },
      draggable: false,
      connectable: false,
      ariaLabel: `${n.label}, ${STATUS_TEXT[n.status] ?? n.status}${n.attempts > 1 ? `, ${n.attempts} attempts` : ""}`,
    };
  });
  const status = new Map(graph.nodes.map((n) => [n.id, n.status]));
  const edges: Edge[] = graph.edges
    .filter((e) => g.hasNode(e.from) && g.hasNode(e.to))
    .map((e, i) => {
      const reached = status.get(e.to) !== "none" && status.get(e.to) !== "pending";
      const failed = status.get(e.to) === "failed";
      return {
        id: `e${i}-${e.from}-${e.to}`,
        source: e.from,
        target: e.to,
        label: e.label,
        animated: status.get(e.to) === "waiting" || status.get(e.to) === "retrying",
        markerEnd: { type: MarkerType.ArrowClosed },
        style: {
          stroke: failed ? "#c0262c" : reached ? "#55606e" : "#b8bfca",
          strokeWidth: reached ? 1.8 : 1.2,
          strokeDasharray: e.dashed ? "5 4" : undefined,
        },
      };
    });
  return { nodes, edges, width: size.width ?? 400, height: size.height ?? 100 };
}

const FIT = { padding: 0.12, maxZoom: 1.1 };

export function RunGraph({ graph, caption }: { graph: RunGraphData; caption: string }) {
  const { nodes, edges, width, height } = useMemo(() => layout(graph), [graph]);
  const [selected, setSelected] = useState<string>();
  // The box is as tall as the graph needs at the zoom that fits its width (within bounds).
  const box = useRef<HTMLElement>(null);
  const [boxWidth, setBoxWidth] = useState(1000);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setBoxWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const zoom = Math.min(FIT.maxZoom, (boxWidth * (1 - 2 * FIT.padding)) / width);
  const boxHeight = Math.round(Math.min(560, Math.max(180, height * zoom * (1 + 2 * FIT.padding) + 24)));
  const signature = `${nodes.map((n) => n.id).join(",")}|${boxWidth}|${boxHeight}`;
  const node = graph.nodes.find((n) => n.id === selected);
  return (
    <div>
      <p className="muted" style={{ marginTop: 0 }}>
        {caption}
      </p>
      <section
        ref={box}
        className="graph"
        style={{ height: boxHeight }}
        aria-label="Graph of the run's steps"
        data-testid="run-graph"
      >
        {/* Remounted when the steps or the box change: fitView fits once, on mount. */}
        <ReactFlow
          key={signature}
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          fitView
          fitViewOptions={FIT}
          minZoom={0.2}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable
          onNodeClick={(_, n) => setSelected(n.id)}
          // Keyboard users select a focused step with Enter: show its details too. (The nodes are
          // controlled and not editable, so a selection is the only change worth handling.)
          onNodesChange={(changes) => {
            for (const change of changes)
              if (change.type === "select" && change.selected) setSelected(change.id);
          }}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={20} color="#e6e9ee" />
          <Controls showInteractive={false} position="top-right" orientation="horizontal" />
        </ReactFlow>
      </section>
      {node && node.kind !== "join" && (
        <div className="notice" aria-live="polite">
          <strong>{node.label}</strong> <StatusBadge status={node.status} label={STATUS_TEXT[node.status]} />{" "}
          {node.kind !== "start" && node.kind !== "end" && (
            <span className="muted">
              {node.kind}
              {node.seqs.length ? ` · seq ${node.seqs.join(", ")}` : ""} · {node.attempts} attempt
              {node.attempts === 1 ? "" : "s"}
            </span>
          )}
          {node.errorMessage && <div className="field-error">{node.errorMessage}</div>}
          {node.childRunId && (
            <div>
              Child run: <Link to={runPath(node.childRunId)}>{node.childRunId}</Link>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
