/**
 * The order `gradients` visits the nodes between the xs and the ys, with each while loop taken
 * as one unit: a loop's gradient is a backward loop built at once (core/grads/while_loop.ts), so
 * it must come after every reader of the loop's Exits and before whatever feeds its Enters. The
 * loop's nodes collapse into one item per loop frame directly inside `within`; the items are then
 * ordered consumers first (Kahn's algorithm on the collapsed graph, which has no cycle: a loop's
 * only cycles are its back edges, inside the unit).
 */
import type { Node } from "../graph.ts";
import type { FrameMap, StaticFrame } from "../control_flow/static_frames.ts";
import { isBackEdge } from "../passes/topo.ts";

/** A while loop, as one item of the backward order. */
export interface LoopUnit {
  readonly frame: StaticFrame;
  /** Its nodes on the path between the xs and the ys. */
  readonly nodes: Node[];
}

/** The frame an Enter leads into. */
export function enterFrame(frames: FrameMap, enter: Node): StaticFrame | undefined {
  return frames.frames.find((f) => f.enters.includes(enter));
}

/** The frame a node belongs to for grouping: an Enter and an Exit are their loop's. */
export function memberFrame(frames: FrameMap, n: Node): StaticFrame | undefined {
  if (n.op.controlFlow === "Enter") return enterFrame(frames, n);
  return frames.of.get(n);
}

/** The frame `n`'s outputs live in (an Exit's in its loop's parent). */
export function valueFrame(frames: FrameMap, n: Node): StaticFrame | undefined {
  if (n.op.controlFlow === "Exit") return frames.of.get(n)?.parent ?? undefined;
  return memberFrame(frames, n);
}

/**
 * `between`'s nodes, consumers before producers; nodes of a loop frame directly inside `within`
 * are replaced by that loop's unit. Nodes of frames further in belong to their outermost such
 * loop's unit.
 */
export function backwardOrder(
  between: ReadonlySet<Node>,
  frames: FrameMap,
  within: StaticFrame,
): (Node | LoopUnit)[] {
  const units = new Map<StaticFrame, LoopUnit>();
  const itemOf = (n: Node): Node | LoopUnit => {
    let f = memberFrame(frames, n);
    if (f === undefined || f === within) return n;
    while (f.parent !== null && f.parent !== within) f = f.parent;
    if (f.parent === null) return n; // Not inside `within`: an outer value, a plain node.
    let u = units.get(f);
    if (!u) units.set(f, u = { frame: f, nodes: [] });
    u.nodes.push(n);
    return u;
  };
  const items = new Map<Node, Node | LoopUnit>();
  for (const n of between) items.set(n, itemOf(n));
  // Per item: the items it reads from (producers) and how many of its readers are still to go.
  const producers = new Map<Node | LoopUnit, (Node | LoopUnit)[]>();
  const waiting = new Map<Node | LoopUnit, number>();
  for (const item of items.values()) {
    producers.set(item, []);
    waiting.set(item, 0);
  }
  for (const [n, item] of items) {
    for (const o of n.inputs) {
      const p = items.get(o.node);
      if (p === undefined || p === item || isBackEdge(n, o)) continue;
      producers.get(item)!.push(p);
      waiting.set(p, waiting.get(p)! + 1);
    }
  }
  const ready = [...waiting].filter(([, w]) => w === 0).map(([i]) => i);
  const order: (Node | LoopUnit)[] = [];
  while (ready.length > 0) {
    const item = ready.pop()!;
    order.push(item);
    for (const p of producers.get(item)!) {
      const w = waiting.get(p)! - 1;
      waiting.set(p, w);
      if (w === 0) ready.push(p);
    }
  }
  return order;
}
