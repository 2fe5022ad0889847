/**
 * Gradient functions of the reductions, after TensorFlow's _SumGrad, _MeanGrad, _MinOrMaxGrad
 * and _ProdGrad.
 */
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { isFullyDefined, shapesEqual } from "../shape.ts";
import { div, equal, mul } from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { prod, sum } from "../ops/reduce.ts";
import { EdgeflowError } from "../errors.ts";
import { cumprod } from "../ops/scan.ts";
import { transpose } from "../ops/transpose.ts";
import { gather } from "../ops/gather.ts";
import { stack } from "../ops/join.ts";
import { reshape } from "../ops/shape_ops.ts";
import {
  broadcastReduced,
  constInts,
  int32Const,
  keptShape,
  reductionCount,
  shapeOf,
} from "./util.ts";

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

/**
 * TensorFlow's _ProdGrad: each element's gradient is dy times the product of the other elements
 * of its group, from exclusive cumulative products from both ends (no division, so zeros are
 * exact). The reduced dims are moved first and packed into one (Transpose, Reshape to
 * [reduced, other]); the axes and x's rank must be known when the graph is built, as the
 * permutation is computed here (TensorFlow computes it with host ops).
 */
export function prodGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, axes] = node.inputs;
  const rank = x.shape?.length;
  const given = rank === undefined ? undefined : constInts(axes);
  if (rank === undefined || given === undefined) {
    throw new EdgeflowError(
      "Prod's gradient needs the input's rank and constant reduction_indices when the graph " +
        "is built",
    );
  }
  const reduced = given.map((a) => (a < 0 ? a + rank : a));
  const other = Array.from({ length: rank }, (_, i) => i).filter((i) => !reduced.includes(i));
  const perm = [...reduced, ...other];
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const grad = broadcastReduced(dy!, x, axes);
  const permuted = transpose(x, int32Const(x, perm));
  const shape = x.shape!;
  const packed = isFullyDefined(shape)
    ? int32Const(x, [
      reduced.reduce((n, a) => n * shape[a], 1),
      other.reduce((n, a) => n * shape[a], 1),
    ])
    : stack([
      prod(gather(shapeOf(x), int32Const(x, reduced)), int32Const(x, [0])),
      prod(gather(shapeOf(x), int32Const(x, other)), int32Const(x, [0])),
    ]);
  const reshaped = reshape(permuted, packed);
  const left = cumprod(reshaped, 0, { exclusive: true });
  const right = cumprod(reshaped, 0, { exclusive: true, reverse: true });
  const y = reshape(mul(left, right), shapeOf(permuted));
  return [mul(grad, transpose(y, int32Const(x, inverse))), null];
}
