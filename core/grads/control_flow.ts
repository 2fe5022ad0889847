/**
 * Gradients of cond's control-flow ops (TensorFlow's control_flow_grad.py): a Merge's gradient
 * goes back through a Switch to the input that was taken, a Switch's through a Merge of its two
 * outputs' gradients (only the taken branch's is live). Function declarations, so the op file
 * can name them while the modules load in a cycle.
 *
 * While loops' gradients need the forward values of every iteration kept on stacks (the
 * EuroSys 2018 paper, section 5); they are not built yet, and say so.
 */
import { EdgeflowError } from "../errors.ts";
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { cast } from "../ops/cast.ts";
import { Merge, Switch } from "../ops/control_flow.ts";
import { equal } from "../ops/binary.ts";

/** Merge: dy goes to the input `value_index` names; the other inputs' gradients are dead. */
export function mergeGrad(
  g: GradientContext,
  node: Node,
  dys: readonly (Output | null)[],
): (Output | null)[] {
  const dy = dys[0]!;
  const index = node.outputs[1];
  const n = node.inputs.length;
  if (n === 2) {
    const sw: Node = g.graph.addNode(Switch, [dy, cast(index, "bool")], {}, { name: "cond_grad" });
    return [sw.outputs[0], sw.outputs[1]];
  }
  return node.inputs.map((_, j): Output =>
    g.graph.addNode(Switch, [dy, equal(index, j)], {}, { name: "cond_grad" }).outputs[1]
  );
}

/** Switch: the live one of its outputs' gradients (the untaken one's is dead); none for pred. */
export function switchGrad(
  g: GradientContext,
  _node: Node,
  dys: readonly (Output | null)[],
): (Output | null)[] {
  const merged: Node = g.graph.addNode(Merge, [[dys[0]!, dys[1]!]], {}, { name: "cond_grad" });
  return [merged.outputs[0], null];
}

/** Enter, Exit and NextIteration: a while loop's gradient, not built yet. */
export function loopGrad(_g: GradientContext, node: Node): never {
  throw new EdgeflowError(
    `gradients through while loops (${node.op.name}) are not supported yet: they need each ` +
      `iteration's forward values on a stack`,
    { node: node.name, op: node.op.name },
  );
}
