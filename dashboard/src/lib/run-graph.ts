// The graph of a run, as data (laid out and drawn by components/RunGraph.tsx). Pure.
// - DSL workflows: the definition's graph, each node coloured by the journal entries of that step.
// - Code workflows have no definition: the steps as they ran, in seq order; steps that were in flight
//   at the same time (Promise.all) side by side; child runs as nodes linking to the child.
import type { DefinitionGraph, JournalEntry, RunRecord } from "../api/types.js";

export type NodeStatus =
  | "completed"
  | "failed"
  | "retrying"
  | "waiting"
  | "running"
  | "pending"
  | "cancelled"
  | "compensated"
  | "none";

export interface GraphNodeData {
  id: string;
  label: string;
  kind: string;
  status: NodeStatus;
  /** Attempts made (steps); more than 1 means it was retried. */
  attempts: number;
  /** Journal seqs drawn by this node. */
  seqs: number[];
  childRunId?: string;
  errorMessage?: string;
  /** Parallel group (as-ran graphs): nodes of one group ran side by side. */
  rank?: number;
}

export interface GraphEdgeData {
  from: string;
  to: string;
  label?: string;
  dashed?: boolean;
}

export interface RunGraphData {
  source: "definition" | "as-ran";
  nodes: GraphNodeData[];
  edges: GraphEdgeData[];
}

/** Journal kinds that are bookkeeping, not steps worth a node (recorded time, randomness, ids). */
const HIDDEN_KINDS = new Set(["now", "random", "uuid"]);

function entryStatus(e: JournalEntry): NodeStatus {
  return e.status;
}

function runEndStatus(run: RunRecord): NodeStatus {
  switch (run.status) {
    case "completed":
      return "completed";
    case "failed":
      return "failed";
    case "cancelled":
    case "terminated":
      return "cancelled";
    case "pending":
      return "pending";
    default:
      return "none";
  }
}

function runStartStatus(run: RunRecord): NodeStatus {
  return run.status === "pending" && run.startedAt === undefined ? "pending" : "completed";
}

/** The end of an entry's activity: open-ended while it still waits or retries. */
function endOf(e: JournalEntry): number {
  return e.status === "waiting" || e.status === "retrying" ? Number.POSITIVE_INFINITY : e.updatedAt;
}

/**
 * Group entries into ranks: an entry that started before every entry of the current rank had ended
 * ran beside them (parallel); otherwise it starts the next rank.
 */
export function parallelRanks(entries: JournalEntry[]): JournalEntry[][] {
  const ranks: JournalEntry[][] = [];
  let current: JournalEntry[] = [];
  let currentEnd = Number.NEGATIVE_INFINITY;
  let currentStart = Number.POSITIVE_INFINITY;
  for (const e of [...entries].sort((a, b) => a.seq - b.seq)) {
    const overlaps = current.length > 0 && e.startedAt < currentEnd && e.startedAt >= currentStart;
    if (overlaps) {
      current.push(e);
      currentEnd = Math.max(currentEnd, endOf(e));
    } else {
      if (current.length) ranks.push(current);
      current = [e];
      currentStart = e.startedAt;
      currentEnd = endOf(e);
    }
  }
  if (current.length) ranks.push(current);
  return ranks;
}

/** The steps as they ran: start → ranks of steps → end. */
export function asRanGraph(run: RunRecord, journal: JournalEntry[]): RunGraphData {
  const steps = journal.filter((e) => !HIDDEN_KINDS.has(e.kind) && e.kind !== "undo");
  const undos = journal.filter((e) => e.kind === "undo");
  const nodes: GraphNodeData[] = [
    {
      id: "start",
      label: "start",
      kind: "start",
      status: runStartStatus(run),
      attempts: 0,
      seqs: [],
      rank: -1,
    },
  ];
  const edges: GraphEdgeData[] = [];
  const ranks = parallelRanks(steps);
  let previous = ["start"];
  ranks.forEach((rank, r) => {
    const ids: string[] = [];
    for (const e of rank) {
      const id = `seq-${e.seq}`;
      ids.push(id);
      nodes.push({
        id,
        label: e.kind === "child" ? (e.detail?.childWorkflow ?? e.name) : e.name,
        kind: e.kind,
        status: entryStatus(e),
        attempts: e.attempt,
        seqs: [e.seq],
        childRunId: e.detail?.childRunId,
        errorMessage: e.error?.message,
        rank: r,
      });
    }
    connect(edges, previous, ids, `rank-${r}`, nodes, r);
    previous = ids;
  });
  const compensated = new Set<number>();
  for (const u of undos) {
    const target = u.detail?.compensates;
    if (target === undefined) continue;
    compensated.add(target);
    const id = `seq-${u.seq}`;
    nodes.push({
      id,
      label: u.name.startsWith("undo:") ? u.name : `undo ${u.name}`,
      kind: "undo",
      status: entryStatus(u),
      attempts: u.attempt,
      seqs: [u.seq],
      errorMessage: u.error?.message,
    });
    edges.push({ from: `seq-${target}`, to: id, label: "undo", dashed: true });
  }
  for (const n of nodes) {
    if (n.status === "completed" && n.seqs.some((s) => compensated.has(s))) n.status = "compensated";
  }
  nodes.push({
    id: "end",
    label: endLabel(run),
    kind: "end",
    status: runEndStatus(run),
    attempts: 0,
    seqs: [],
    rank: ranks.length,
  });
  connect(edges, previous, ["end"], "end", nodes, ranks.length);
  return { source: "as-ran", nodes, edges };
}

function endLabel(run: RunRecord): string {
  switch (run.status) {
    case "pending":
      return "not started";
    case "running":
      return "running…";
    case "waiting":
      return "waiting…";
    default:
      return run.status;
  }
}

/** Edges from every node of one rank to every node of the next, through a join node when that is many. */
function connect(
  edges: GraphEdgeData[],
  from: string[],
  to: string[],
  joinId: string,
  nodes: GraphNodeData[],
  rank: number,
): void {
  if (from.length * to.length <= 16) {
    for (const a of from) for (const b of to) edges.push({ from: a, to: b });
    return;
  }
  const id = `join-${joinId}`;
  nodes.push({ id, label: "", kind: "join", status: "none", attempts: 0, seqs: [], rank: rank - 0.5 });
  for (const a of from) edges.push({ from: a, to: id });
  for (const b of to) edges.push({ from: id, to: b });
}

const STATUS_WEIGHT: Record<NodeStatus, number> = {
  failed: 7,
  retrying: 6,
  waiting: 5,
  running: 4,
  compensated: 3,
  completed: 2,
  cancelled: 1,
  pending: 0,
  none: 0,
};

/** Which definition node a journal entry belongs to: names are the step id plus a scope suffix. */
export function nodeForEntry(name: string, kind: string, ids: Set<string>): string | undefined {
  if (kind === "undo" && ids.has(`${name}:compensate`)) return `${name}:compensate`;
  if (ids.has(name)) return name;
  let best: string | undefined;
  for (const id of ids) {
    if (
      name.startsWith(id) &&
      /[^A-Za-z0-9_-]/.test(name.charAt(id.length)) &&
      (!best || id.length > best.length)
    ) {
      best = id;
    }
  }
  return best;
}

/** A DSL definition's graph, its nodes coloured by what the journal says about each step. */
export function definitionRunGraph(
  graph: DefinitionGraph,
  run: RunRecord,
  journal: JournalEntry[],
): RunGraphData {
  const ids = new Set(graph.nodes.map((n) => n.id));
  const byNode = new Map<string, JournalEntry[]>();
  for (const e of journal) {
    if (HIDDEN_KINDS.has(e.kind)) continue;
    const id = nodeForEntry(e.name, e.kind, ids);
    if (!id) continue;
    const list = byNode.get(id) ?? [];
    list.push(e);
    byNode.set(id, list);
  }
  const nodes: GraphNodeData[] = graph.nodes.map((n) => {
    const entries = byNode.get(n.id) ?? [];
    let status: NodeStatus = "none";
    for (const e of entries)
      if (STATUS_WEIGHT[entryStatus(e)] > STATUS_WEIGHT[status]) status = entryStatus(e);
    if (n.kind === "start") status = runStartStatus(run);
    if (n.kind === "end") status = run.status === "completed" ? "completed" : "none";
    const failed = entries.find((e) => e.status === "failed" || e.status === "retrying");
    const child = entries.find((e) => e.detail?.childRunId);
    return {
      id: n.id,
      label: n.label || n.id,
      kind: n.kind,
      status,
      attempts: entries.reduce((max, e) => Math.max(max, e.attempt), 0),
      seqs: entries.map((e) => e.seq),
      childRunId: child?.detail?.childRunId,
      errorMessage: failed?.error?.message,
    };
  });
  const edges = graph.edges.map((e) => ({
    from: e.from,
    to: e.to,
    label: e.label,
    dashed: e.label === "compensate" || e.label === "on failure",
  }));
  return { source: "definition", nodes, edges };
}

/** A definition's graph with no run: every node uncoloured. */
export function definitionOnlyGraph(graph: DefinitionGraph): RunGraphData {
  return {
    source: "definition",
    nodes: graph.nodes.map((n) => ({
      id: n.id,
      label: n.label || n.id,
      kind: n.kind,
      status: "none",
      attempts: 0,
      seqs: [],
    })),
    edges: graph.edges.map((e) => ({
      from: e.from,
      to: e.to,
      label: e.label,
      dashed: e.label === "compensate" || e.label === "on failure",
    })),
  };
}
