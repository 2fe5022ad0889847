/**
 * Gradients of cond's control-flow ops (TensorFlow's control_flow_grad.py): a Merge's gradient
 * goes back through a Switch to the input that was taken, a Switch's through a Merge of its two
 * outputs' gradients (only the taken branch's is live). Function declarations, so the op file
 * can name them while the modules load in a cycle.
 *
 * A while loop's Enter, Exit, NextIteration, and its own Merges and Switches are differentiated
 * together, as one backward loop with the forward values on stacks (core/grads/while_loop.ts):
 * `gradients` hands it the whole loop, so their own gradient functions only refuse.
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

/**
 * Enter, Exit and NextIteration: differentiated with their whole loop by `gradients`; one alone
 * (a loop `gradients` cannot see whole) is refused.
 */
export function loopGrad(_g: GradientContext, node: Node): never {
  throw new EdgeflowError(
    `${node.op.name} is differentiated with its whole while loop (core/grads/while_loop.ts); ` +
      `this one is not part of a loop gradients can see whole`,
    { node: node.name, op: node.op.name },
  );
}
