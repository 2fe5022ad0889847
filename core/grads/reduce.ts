/** Gradient functions of the reductions, after TensorFlow's _SumGrad, _MeanGrad and _MinOrMaxGrad. */
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { isFullyDefined, shapesEqual } from "../shape.ts";
import { div, equal, mul } from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { sum } from "../ops/reduce.ts";
import { reshape } from "../ops/shape_ops.ts";
import { broadcastReduced, constInts, keptShape, reductionCount } from "./util.ts";

type Dys = readonly (Output | null)[];
type Grads = (Output | null)[];

export function sumGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, axes] = node.inputs;
  return [broadcastReduced(dy!, x, axes), null];
}

export function meanGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, axes] = node.inputs;
  const count = reductionCount(x, node.outputs[0], x.dtype);
  return [div(broadcastReduced(dy!, x, axes), count), null];
}

/** `t` reshaped to `kept` unless it has that shape already. */
function toKept(t: Output, kept: Output): Output {
  const k = constInts(kept);
  if (k && isFullyDefined(t.shape) && shapesEqual(t.shape, k)) return t;
  return reshape(t, kept);
}

/**
 * The gradient goes to the elements equal to the result, split evenly among ties (as
 * TensorFlow's _MinOrMaxGrad).
 */
export function minOrMaxGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, axes] = node.inputs;
  const kept = keptShape(x, axes);
  const y = toKept(node.outputs[0], kept);
  const indicators = cast(equal(y, x), x.dtype);
  const selected = toKept(sum(indicators, axes), kept);
  return [mul(div(indicators, selected), toKept(dy!, kept)), null];
}
