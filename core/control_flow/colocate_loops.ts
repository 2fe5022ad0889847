/**
 * Where the nodes of a while loop go, before the placer runs.
 *
 * Two kinds of colocation:
 *  - Structural, always: a loop variable's Merge with its Enter and its NextIteration. The
 *    Enter's value exists in iteration 0 only and the NextIteration's belongs to the next
 *    iteration, so neither can be carried by a per-iteration Send/Recv; everything else in a
 *    frame can cross devices (core/control_flow/control_loops.ts puts a control loop on each
 *    device the frame touches).
 *  - A preference for one device per loop nest: every other node of an outermost loop frame
 *    (nested frames included) joins one group (anchored on its first member), so a loop
 *    whose nodes ask for nothing runs in one partition, with no predicate sent per iteration.
 *    A node leaves that group when it asked for a device of the session other than the loop's
 *    first Enter's, when it has a colocation of its own (its group decides), or when no default
 *    device has a kernel for it (it then goes where it can run, a REF fallback, and its values
 *    cross devices inside the loop).
 *
 * A loop nest with a frame that has not exactly one LoopCond (a hand-built or imported graph)
 * cannot get control loops: it stays wholly in one group, requests included, as before frames
 * could span devices. Groups a node already had (a variable it reads) join the loop's. Mutates
 * the plan's copies of the nodes only.
 */
import type { Node } from "../graph.ts";
import { isBackEdge } from "../passes/topo.ts";
import { type StaticFrame, staticFrames } from "./static_frames.ts";

export interface LoopColocationOptions {
  /** Whether some default device has a kernel for the node (else it leaves its loop's group). */
  readonly runsOnDefaults?: (n: Node) => boolean;
  /**
   * Whether the node's request names a device of the session: one that soft placement will move
   * anyway stays with its loop.
   */
  readonly requestMet?: (n: Node) => boolean;
}

export function colocateLoops(nodes: readonly Node[], options: LoopColocationOptions = {}): void {
  const runsOnDefaults = options.runsOnDefaults ?? (() => true);
  const requestMet = options.requestMet ?? (() => true);
  if (!nodes.some((n) => n.op.controlFlow !== undefined)) return;
  const frames = staticFrames(nodes);
  // Colocation asked for explicitly (colocateWith, a GraphDef's _class) outranks the preference.
  const explicit = new Set(nodes.filter((n) => n.colocation.length > 0));
  const join = (n: Node, anchor: string) => {
    if (n.name !== anchor && !n.colocation.includes(anchor)) {
      n.colocation = [...n.colocation, anchor];
    }
  };
  const outermost = (f: StaticFrame) => {
    while (f.parent && f.parent !== frames.root) f = f.parent;
    return f;
  };
  // Nests with a frame lacking exactly one LoopCond stay whole.
  const conds = new Map<StaticFrame, number>();
  for (const n of nodes) {
    if (n.op.controlFlow === "LoopCond") {
      const f = frames.of.get(n)!;
      conds.set(f, (conds.get(f) ?? 0) + 1);
    }
  }
  const whole = new Set(
    frames.frames.filter((f) => conds.get(f) !== 1).map(outermost),
  );
  const nestOf = (n: Node): StaticFrame | undefined => {
    const f = n.op.controlFlow === "Enter"
      ? frames.frames.find((c) => c.enters.includes(n))
      : frames.of.get(n);
    return !f || f === frames.root ? undefined : outermost(f);
  };
  // Structural: a loop variable's Enter and NextIteration go with its Merge, and the three
  // leave the loop's group together.
  const trioOf = new Map<Node, Node[]>();
  for (const n of nodes) {
    if (n.op.controlFlow !== "Merge" || !nestOf(n)) continue;
    const trio = [
      n,
      ...n.inputs.map((o) => o.node).filter((p, i) =>
        isBackEdge(n, n.inputs[i]) || (p.op.controlFlow === "Enter" && !p.attrs.is_constant)
      ),
    ];
    for (const p of trio) {
      join(p, n.name);
      trioOf.set(p, trio);
    }
  }
  // The loop's own request: its first Enter's (the device scope it was built in, if any).
  const alone = (n: Node, f: StaticFrame) =>
    (n.requestedDevice !== "" && n.requestedDevice !== f.enters[0].requestedDevice &&
      requestMet(n)) ||
    explicit.has(n) || !runsOnDefaults(n);
  const leaves = (n: Node, f: StaticFrame) =>
    !whole.has(f) && (trioOf.get(n) ?? [n]).some((m) => alone(m, f));
  const anchors = new Map<StaticFrame, Node>();
  for (const n of nodes) {
    const f = nestOf(n);
    if (!f || leaves(n, f)) continue;
    const anchor = anchors.get(f) ?? n;
    anchors.set(f, anchor);
    join(n, anchor.name);
  }
}
