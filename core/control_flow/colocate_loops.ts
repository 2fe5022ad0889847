/**
 * Keeps each while loop on one device: every node of an outermost loop frame (its Enters
 * included) joins one colocation group, anchored on the frame's first Enter. A loop body using an
 * op the default device lacks then runs wholly where every member has a kernel (REF), instead of
 * being split across devices, which partitions cannot do inside a frame yet (the frame's control
 * structure would be needed in each partition). Groups a node already had (a variable it reads)
 * join the loop's. Mutates the plan's copies of the nodes only.
 */
import type { Node } from "../graph.ts";
import { staticFrames } from "./static_frames.ts";

export function colocateLoops(nodes: readonly Node[]): void {
  if (!nodes.some((n) => n.op.controlFlow !== undefined)) return;
  const frames = staticFrames(nodes);
  for (const n of nodes) {
    let f = n.op.controlFlow === "Enter"
      ? frames.frames.find((c) => c.enters.includes(n))
      : frames.of.get(n);
    if (!f || f === frames.root) continue;
    while (f.parent && f.parent !== frames.root) f = f.parent;
    const anchor = f.enters[0].name;
    if (n.name !== anchor && !n.colocation.includes(anchor)) {
      n.colocation = [...n.colocation, anchor];
    }
  }
}
