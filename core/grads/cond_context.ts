/**
 * Which cond branch inside a loop body a forward value belongs to (TensorFlow's CondContext of
 * an op, found from the graph): a while loop's gradient must push a value of a branch in every
 * iteration (a dead push would stop the loop's counter) and, in the backward loop, hand it on
 * only where the branch was taken (the cond's gradient relies on the untaken side being dead).
 *
 * A cond's Switch (one not reading a LoopCond) leads into branch `output index` of its pred; a
 * cond's Merge (one reading no Enter or NextIteration) leads back out to the branches' parent;
 * a nested loop's Exit is in the branch its loop was entered in; any other node is in the
 * deepest context of what it reads, its control inputs included (a branch's Const hangs on the
 * branch's pivot).
 */
import type { Node, Output } from "../graph.ts";
import type { FrameMap, StaticFrame } from "../control_flow/static_frames.ts";
import { memberFrame } from "./loop_order.ts";
import { Merge, Switch } from "../ops/control_flow.ts";
import { cast } from "../ops/cast.ts";

export interface CondBranch {
  /** The cond's predicate (in the parent context). */
  readonly pred: Output;
  /** 1: the true branch, 0: the false one (the Switch output that leads in). */
  readonly side: 0 | 1;
  readonly parent: CondBranch | null;
  readonly depth: number;
}

export function isCondSwitch(n: Node): boolean {
  return n.op.controlFlow === "Switch" && n.inputs[1]?.node.op.controlFlow !== "LoopCond";
}
export function isCondMerge(n: Node): boolean {
  return n.op.controlFlow === "Merge" &&
    !n.inputs.some((o) =>
      o.node.op.controlFlow === "Enter" || o.node.op.controlFlow === "NextIteration"
    );
}

/**
 * `value` live in every iteration of the loop: merged, at each cond level from `branch` out, with
 * a stand-in from the other side (the predicate, cast) that is live where the branch is not.
 */
export function liveEverywhere(value: Output, branch: CondBranch | null): Output {
  const g = value.graph;
  for (let b = branch; b; b = b.parent) {
    const other = g.addNode(Switch, [b.pred, b.pred], {}, { name: "other_side" })
      .outputs[1 - b.side];
    const standIn = value.dtype === "bool" ? other : cast(other, value.dtype);
    value = g.addNode(Merge, [[value, standIn]], {}, { name: "live_everywhere" }).outputs[0];
  }
  return value;
}

/** The cond branches of the nodes of one loop frame, memoized. */
export class CondBranches {
  private readonly ofNode = new Map<Node, CondBranch | null>();
  private readonly branches = new Map<Output, Map<CondBranch | null, CondBranch[]>>();

  constructor(private readonly frames: FrameMap, private readonly frame: StaticFrame) {}

  /** The branch `o` is computed in; null at the loop body's own level. */
  of(o: Output): CondBranch | null {
    const n = o.node;
    if (isCondSwitch(n)) return this.branch(n.inputs[1], o.index as 0 | 1, this.node(n));
    if (isCondMerge(n)) return this.node(n);
    return this.node(n);
  }

  private node(n: Node): CondBranch | null {
    if (this.ofNode.has(n)) return this.ofNode.get(n)!;
    this.ofNode.set(n, null); // A back edge's cycle ends at the loop's own level.
    let found: CondBranch | null = null;
    const inner = n.op.controlFlow === "Exit" ? this.frames.of.get(n) : undefined;
    if (inner && inner.parent === this.frame) {
      // A nested loop's result: in the branch the loop was entered in.
      for (const e of inner.enters) found = deeper(found, this.of(e.inputs[0]));
    } else if (memberFrame(this.frames, n) === this.frame && n.op.controlFlow !== "Enter") {
      if (isCondMerge(n)) {
        // Out of the branches its inputs come from, to their parent.
        for (const o of n.inputs) {
          const b = this.of(o);
          if (b) found = deeper(found, b.parent);
        }
      } else if (!n.op.controlFlow || isCondSwitch(n)) {
        for (const o of n.inputs) found = deeper(found, this.of(o));
        for (const c of n.controlInputs) found = deeper(found, this.node(c));
      }
    }
    this.ofNode.set(n, found);
    return found;
  }

  private branch(pred: Output, side: 0 | 1, parent: CondBranch | null): CondBranch {
    let byParent = this.branches.get(pred);
    if (!byParent) this.branches.set(pred, byParent = new Map());
    let pair = byParent.get(parent);
    if (!pair) {
      const depth = (parent?.depth ?? 0) + 1;
      pair = [0, 1].map((s) => ({ pred, side: s as 0 | 1, parent, depth }));
      byParent.set(parent, pair);
    }
    return pair[side];
  }
}

function deeper(a: CondBranch | null, b: CondBranch | null): CondBranch | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.depth > a.depth ? b : a;
}
