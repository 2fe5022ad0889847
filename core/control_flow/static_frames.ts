/**
 * The frames of a graph, known before it runs (TensorFlow's ControlFlowInfo): a node inside a
 * while loop belongs to the loop's frame, named by its Enter nodes' `frame_name`; an Enter's
 * output is in the child frame, an Exit's in the parent; every other node is in the frame of its
 * inputs, which must agree. Nodes without inputs are in the root frame (a Const inside a loop
 * hangs on the loop by a control edge, as TensorFlow's builders make it).
 */
import { EdgeflowError } from "../errors.ts";
import type { Node } from "../graph.ts";
import { isBackEdge } from "../passes/topo.ts";

export interface StaticFrame {
  /** "" for the root frame. */
  readonly name: string;
  readonly parent: StaticFrame | null;
  /** The loop's parallel_iterations (its Enters' attr); 1 for the root. */
  parallelIterations: number;
  /** The Enter nodes into this frame. */
  readonly enters: Node[];
  /** The Exit nodes out of this frame. */
  readonly exits: Node[];
}

export const ROOT_FRAME_NAME = "";

export interface FrameMap {
  readonly root: StaticFrame;
  /** The frame each node runs in. */
  readonly of: Map<Node, StaticFrame>;
  /** Every frame other than the root. */
  readonly frames: StaticFrame[];
}

/** Assigns frames to `nodes`, given in topological order (back edges excepted). */
export function staticFrames(nodes: readonly Node[]): FrameMap {
  const root: StaticFrame = {
    name: ROOT_FRAME_NAME,
    parent: null,
    parallelIterations: 1,
    enters: [],
    exits: [],
  };
  const of = new Map<Node, StaticFrame>();
  const children = new Map<StaticFrame, Map<string, StaticFrame>>();
  const frames: StaticFrame[] = [];
  const outFrame = (n: Node): StaticFrame | undefined => {
    const f = of.get(n);
    if (!f) return undefined;
    if (n.op.controlFlow === "Exit") return f.parent!;
    if (n.op.controlFlow === "Enter") return children.get(f)!.get(n.attrs.frame_name as string)!;
    return f;
  };
  for (const node of nodes) {
    const producers = [
      ...node.inputs.filter((o) => !isBackEdge(node, o)).map((o) => o.node),
      ...node.controlInputs,
    ];
    let frame: StaticFrame | undefined;
    for (const p of producers) {
      const f = outFrame(p);
      if (f === undefined) continue; // Outside this node list (a fed tensor's producer).
      if (frame === undefined) frame = f;
      else if (frame !== f) {
        throw new EdgeflowError(
          `reads values of two frames: '${frame.name || "root"}' and '${f.name || "root"}' ` +
            `(a value entering a loop must go through an Enter)`,
          { node: node.name, op: node.op.name },
        );
      }
    }
    frame ??= root;
    of.set(node, frame);
    const kind = node.op.controlFlow;
    if ((kind === "Exit" || kind === "NextIteration") && frame === root) {
      throw new EdgeflowError(
        `${kind === "Exit" ? "an Exit" : "a NextIteration"} outside any loop frame`,
        {
          node: node.name,
          op: node.op.name,
        },
      );
    }
    if (kind === "Exit") {
      if (frame === root) {
        throw new EdgeflowError("an Exit outside any loop frame", {
          node: node.name,
          op: node.op.name,
        });
      }
      frame.exits.push(node);
    } else if (kind === "Enter") {
      const name = node.attrs.frame_name as string;
      let byName = children.get(frame);
      if (!byName) children.set(frame, byName = new Map());
      let child = byName.get(name);
      if (!child) {
        child = { name, parent: frame, parallelIterations: 0, enters: [], exits: [] };
        byName.set(name, child);
        frames.push(child);
      }
      child.enters.push(node);
      child.parallelIterations = Math.max(
        child.parallelIterations,
        node.attrs.parallel_iterations as number,
      );
    }
  }
  // A back edge must stay in its frame.
  for (const node of nodes) {
    for (const o of node.inputs) {
      if (isBackEdge(node, o) && of.has(o.node) && of.get(o.node) !== of.get(node)) {
        throw new EdgeflowError(
          `its back edge from ${o.node.name} comes from another frame`,
          { node: node.name, op: node.op.name },
        );
      }
    }
  }
  return { root, of, frames };
}
