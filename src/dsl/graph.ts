import { type DslDocument, type DslStep, type StepKind, stepKind } from "./schema.js";

export type GraphNodeKind = StepKind | "start" | "end" | "join" | "compensate" | "onFailure";

export interface GraphNode {
  /** A step's id; `<id>:join` for where branches meet; `start`, `end`, `onFailure`; `<id>:compensate`. */
  id: string;
  kind: GraphNodeKind;
  label: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** A switch case's condition, a branch name, "default", "each item", "compensate", "on failure". */
  label?: string;
}

interface Tail {
  from: string;
  label?: string;
}

export interface DefinitionGraph {
  name: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/**
 * The definition as a graph for the dashboard: one node per step, `start` and `end`, a `<id>:join` node
 * after each switch, parallel and forEach, the compensation of a step as a node on an edge labelled
 * "compensate", and the onFailure steps hanging off an `onFailure` node. `fail` and `succeed` end
 * their path (succeed links to `end`).
 *
 * @example
 * const { nodes, edges } = definitionGraph(parseDefinition(source).doc);
 */
export function definitionGraph(doc: DslDocument): DefinitionGraph {
  const nodes: GraphNode[] = [{ id: "start", kind: "start", label: "start" }];
  const edges: GraphEdge[] = [];
  const node = (id: string, kind: GraphNodeKind, label: string) => nodes.push({ id, kind, label });
  const edge = (from: string, to: string, label?: string) =>
    edges.push(label ? { from, to, label } : { from, to });

  /** Lay out steps after the tails (each tail an edge still to draw); returns the new tails. */
  const sequence = (steps: DslStep[], from: Tail[]): Tail[] => {
    let tails = from;
    for (const s of steps) {
      for (const t of tails) edge(t.from, s.id, t.label);
      tails = place(s).map((id) => ({ from: id }));
    }
    return tails;
  };
  const place = (s: DslStep): string[] => {
    const kind = stepKind(s);
    const x = s as any;
    node(s.id, kind, s.name ?? labelOf(s, kind));
    if (x.compensate) {
      const cid = `${s.id}:compensate`;
      const ck = "http" in x.compensate ? "http" : "task";
      node(
        cid,
        "compensate",
        ck === "http"
          ? `${x.compensate.http.method ?? "GET"} ${x.compensate.http.url}`
          : `task ${x.compensate.task.queue}`,
      );
      edge(s.id, cid, "compensate");
    }
    const join = `${s.id}:join`;
    const toJoin = (tails: Tail[]) => {
      for (const t of tails) edge(t.from, join, t.label);
    };
    switch (kind) {
      case "switch": {
        node(join, "join", "end of switch");
        for (const c of x.switch.cases) toJoin(sequence(c.steps, [{ from: s.id, label: c.when }]));
        if (x.switch.default) toJoin(sequence(x.switch.default, [{ from: s.id, label: "default" }]));
        else edge(s.id, join, "default");
        return [join];
      }
      case "parallel": {
        node(join, "join", x.parallel.join === "first" ? "first branch to finish" : "all branches done");
        for (const [i, b] of (x.parallel.branches as { name?: string; steps: DslStep[] }[]).entries()) {
          toJoin(sequence(b.steps, [{ from: s.id, label: b.name ?? `branch ${i + 1}` }]));
        }
        return [join];
      }
      case "forEach": {
        node(join, "join", "all items done");
        toJoin(sequence(x.forEach.steps, [{ from: s.id, label: "each item" }]));
        return [join];
      }
      case "fail":
        return [];
      case "succeed":
        edge(s.id, "end");
        return [];
      default:
        return [s.id];
    }
  };

  const tails = sequence(doc.steps, [{ from: "start" }]);
  node("end", "end", "end");
  for (const t of tails) edge(t.from, "end", t.label);
  if (doc.onFailure?.length) {
    node("onFailure", "onFailure", "on failure");
    sequence(doc.onFailure, [{ from: "onFailure" }]);
  }
  return { name: doc.name, nodes, edges };
}

function labelOf(s: DslStep, kind: StepKind): string {
  const x = s as any;
  switch (kind) {
    case "http":
      return `${x.http.method ?? "GET"} ${x.http.url}`;
    case "task":
      return `task ${x.task.queue}`;
    case "switch":
      return "switch";
    case "parallel":
      return `parallel (${x.parallel.join ?? "all"})`;
    case "forEach":
      return `for each ${x.forEach.items}`;
    case "wait":
      return "duration" in x.wait ? `wait ${x.wait.duration}` : `wait until ${x.wait.until}`;
    case "waitForSignal":
      return `wait for signal ${x.waitForSignal.signal ?? s.id}`;
    case "subWorkflow":
      return `run ${x.subWorkflow.workflow}`;
    case "set":
      return `set ${Object.keys(x.set).join(", ")}`;
    case "fail":
      return `fail: ${x.fail.message}`;
    case "succeed":
      return "succeed";
  }
}
