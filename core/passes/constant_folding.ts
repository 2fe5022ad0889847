/**
 * Constant folding: a stateless node whose data inputs are all Const is evaluated once, with the
 * op's reference implementation, and replaced by Consts. Shape of a fully known shape folds too.
 * Only nodes whose inputs and inferred outputs are all within MAX_FOLDED_ELEMENTS fold.
 */
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { MapHostContext } from "../host_context.ts";
import { Const } from "../ops/const.ts";
import { isFullyDefined, sizeOf } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyNodes, newGraphLike } from "./copy.ts";
import type { PassInput, PassResult } from "./pass.ts";

/** Larger results stay computed at run time, as TensorFlow caps folded constants. */
export const MAX_FOLDED_ELEMENTS = 1 << 20;

export function foldConstants(input: PassInput): PassResult {
  // Inside a loop a Const hangs on its frame by a control edge: a value folded from it must
  // stay in that frame, so such Consts do not fold, and a folded Shape keeps its input's edge.
  const loops = input.nodes.some((n) => n.op.controlFlow !== undefined);
  const copy = copyNodes(
    input.nodes,
    newGraphLike(input.graph),
    input.bound,
    (node, inputs, control, target) => {
      if (
        node.op.stateful || node.op.controlFlow || node.inputs.length === 0 || control.length > 0
      ) return undefined;
      // A variant (a TensorList) is a host object no Const holds (nor a GraphDef), as
      // TensorFlow leaves DT_VARIANT results unfolded.
      if (node.outputs.some((o) => o.dtype === "variant")) return undefined;
      if (node.op.name === "Shape") return foldShape(node, inputs, target, loops);
      if (!inputs.every((o) => o.node.op === Const)) return undefined;
      if (loops && inputs.some((o) => o.node.controlInputs.length > 0)) return undefined;
      const values = inputs.map((o) => o.node.attrs.value as Tensor);
      if (!withinFoldingCap(node, values)) return undefined;
      let results: Tensor[];
      try {
        const ctx = new MapHostContext();
        ctx.node = node;
        results = node.op.reference(values, node.attrs, ctx);
      } catch (e) {
        if (e instanceof EdgeflowError) return undefined; // Left in place: the run reports it with context.
        throw e;
      }
      return results.map((t, i) => addConst(target, node, i, results.length, t));
    },
  );
  return { graph: copy.graph, map: copy.map, mapNode: copy.mapNode };
}

/**
 * The cap, checked before any work: every input and every output (shapes from the op's own
 * inference on the constant inputs) holds at most MAX_FOLDED_ELEMENTS. A node whose output shapes
 * inference cannot pin down is not folded either, since its size is not known in advance. Left
 * unfolded, `fill` of [2^31] runs on its device, which computes it within its memory limit or
 * refuses it with an EdgeflowError naming the node.
 */
function withinFoldingCap(node: Node, values: readonly Tensor[]): boolean {
  if (values.some((t) => t.size > MAX_FOLDED_ELEMENTS)) return false;
  let specs;
  try {
    specs = node.op.infer(
      values.map((v) => ({ dtype: v.dtype, shape: v.shape, value: v })),
      node.attrs,
    );
  } catch (e) {
    if (e instanceof EdgeflowError) return false; // Left in place: the run reports it with context.
    throw e;
  }
  return specs.every((s) => isFullyDefined(s.shape) && sizeOf(s.shape) <= MAX_FOLDED_ELEMENTS);
}

function foldShape(
  node: Node,
  [x]: Output[],
  target: Graph,
  loops: boolean,
): Output[] | undefined {
  if (!isFullyDefined(x.shape)) return undefined;
  const value = Tensor.fromNumbers(node.attrs.out_type ?? "int32", [x.shape.length], x.shape);
  const c = addConst(target, node, 0, 1, value);
  if (loops) target.addControlInput(c.node, x.node);
  return [c];
}

function addConst(target: Graph, node: Node, i: number, count: number, value: Tensor): Output {
  const name = count === 1 ? node.name : `${node.name}/_${i}`;
  const c = target.addNode(Const, [], { value, dtype: value.dtype }, { name });
  c.requestedDevice = node.requestedDevice;
  // The folded value stays in the node's colocation group (the placer keeps groups together).
  c.colocation = node.colocation;
  return c.outputs[0];
}
