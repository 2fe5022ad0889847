/**
 * Graph pieces gradient functions share: shapes as tensors (a Const when the graph knows them,
 * a Shape op otherwise), undoing broadcasting, and broadcasting a reduction's gradient back over
 * the reduced dims. Static shapes give small graphs with Const arguments; partial shapes give
 * TensorFlow's dynamic graph (Shape, BroadcastGradientArgs, Sum, Reshape).
 */
import type { DType } from "../dtype.ts";
import { constantValue, type Output } from "../graph.ts";
import { isFullyDefined, type PartialShape, type Shape, shapesEqual } from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import { constant } from "../ops/basic.ts";
import { floorDiv, floorMod, greater, maximum } from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { broadcastGradientArgs, broadcastGradientArgsOp } from "../ops/grad_array.ts";
import { prod, sum } from "../ops/reduce.ts";
import { oneHot, where } from "../ops/select.ts";
import { reshape, shape as shapeOp } from "../ops/shape_ops.ts";
import { tile } from "../ops/pad_tile.ts";

/** `x`'s shape as an int tensor: a Const when fully known, else a Shape op. */
export function shapeOf(x: Output, outType: DType = "int32"): Output {
  if (isFullyDefined(x.shape)) {
    return constant(Tensor.fromNumbers(outType, [x.shape.length], x.shape), { graph: x.graph });
  }
  return shapeOp(x, { out_type: outType });
}

/** An int32 vector Const in `like`'s graph. */
export function int32Const(like: Output, values: readonly number[]): Output {
  return constant(Tensor.fromNumbers("int32", [values.length], values), { graph: like.graph });
}

/** The constant int values of `o` when it is a Const, else undefined. */
export function constInts(o: Output): number[] | undefined {
  const v = constantValue(o);
  return v ? intList(v) : undefined;
}

/** Whether `o` is a zero gradient filled in for an unused output (so a term can be skipped). */
export function isZeros(o: Output | null): boolean {
  return o === null || o.node.op.name === "ZerosLike";
}

function sumAndReshape(grad: Output, axes: readonly number[], target: Output): Output {
  const summed = axes.length > 0 ? sum(grad, int32Const(grad, axes)) : grad;
  return summed.shape !== null && isFullyDefined(target.shape) &&
      shapesEqual(summed.shape as Shape, target.shape)
    ? summed
    : reshape(summed, shapeOf(target));
}

/**
 * The gradient of broadcast operands: `dy` (of the broadcast shape) summed over the dims each of
 * `x` and `y` was replicated along, reshaped to each operand's shape.
 */
export function unbroadcastPair(
  dx: Output,
  dyy: Output,
  x: Output,
  y: Output,
): [Output, Output] {
  if (isFullyDefined(x.shape) && isFullyDefined(y.shape)) {
    if (shapesEqual(x.shape, y.shape)) return [dx, dyy];
    const [rx, ry] = broadcastGradientArgs(x.shape, y.shape);
    return [sumAndReshape(dx, rx, x), sumAndReshape(dyy, ry, y)];
  }
  const sx = shapeOp(x), sy = shapeOp(y);
  const [rx, ry] = broadcastGradientArgsOp(sx, sy);
  return [reshape(sum(dx, rx), sx), reshape(sum(dyy, ry), sy)];
}

/** `grad`, of a shape `x` broadcasts to, summed back to `x`'s shape. */
export function unbroadcastTo(grad: Output, x: Output): Output {
  if (isFullyDefined(x.shape) && isFullyDefined(grad.shape)) {
    if (shapesEqual(x.shape, grad.shape)) return grad;
    const [, rx] = broadcastGradientArgs(grad.shape, x.shape);
    return sumAndReshape(grad, rx, x);
  }
  const sx = shapeOp(x);
  const [, rx] = broadcastGradientArgsOp(shapeOp(grad), sx);
  return reshape(sum(grad, rx), sx);
}

/** Reduction axes as given (scalar or vector, negative allowed), normalised when the rank is known. */
function staticAxes(axes: Output, rank: number): number[] | undefined {
  const values = constInts(axes);
  return values?.map((a) => (a < 0 ? a + rank : a));
}

/**
 * The shape of `x` with the reduced `axes` set to 1 (TensorFlow's reduced_shape): the shape a
 * reduction's output has with keep_dims. A Const when the shape and axes are known.
 */
export function keptShape(x: Output, axes: Output): Output {
  const shape: PartialShape = x.shape;
  if (shape !== null) {
    const a = staticAxes(axes, shape.length);
    if (a && isFullyDefined(shape)) {
      return int32Const(x, shape.map((d, i) => (a.includes(i) ? 1 : d)));
    }
  }
  // Dynamic: a mask of the reduced dims from a one-hot of the (normalised) axes.
  const sx = shapeOp(x);
  const rank = reshape(shapeOp(sx), int32Const(x, []));
  const flatAxes = reshape(
    axes.dtype === "int32" ? axes : cast(axes, "int32"),
    int32Const(x, [-1]),
  );
  const mask = sum(
    oneHot(floorMod(flatAxes, rank), rank, 1, 0, { T: "int32" }),
    int32Const(x, [0]),
  );
  return where(greater(mask, 0), int32Const(x, [1]), sx);
}

/**
 * The gradient of a reduction over `axes` of `x`: `dy` (of the reduced shape) reshaped to keep the
 * reduced dims and tiled back over them, as TensorFlow's _SumGrad.
 */
export function broadcastReduced(dy: Output, x: Output, axes: Output): Output {
  const kept = keptShape(x, axes);
  const keptValues = constInts(kept);
  const reshaped = dy.shape !== null && keptValues && isFullyDefined(dy.shape) &&
      shapesEqual(dy.shape, keptValues)
    ? dy
    : reshape(dy, kept);
  if (keptValues && isFullyDefined(x.shape)) {
    const multiples = x.shape.map((d, i) => (keptValues[i] === 0 ? 1 : d / keptValues[i]));
    return multiples.every((m) => m === 1) ? reshaped : tile(reshaped, int32Const(x, multiples));
  }
  return tile(reshaped, floorDiv(shapeOf(x), maximum(kept, 1)));
}

/** How many elements of `x` each element of `y` (a reduction of x) summarises, as `dtype`. */
export function reductionCount(x: Output, y: Output, dtype: DType): Output {
  if (isFullyDefined(x.shape) && isFullyDefined(y.shape)) {
    const sizeX = x.shape.reduce((a, b) => a * b, 1), sizeY = y.shape.reduce((a, b) => a * b, 1);
    return constant(Tensor.fromNumbers(dtype, [], [sizeX / Math.max(sizeY, 1)]), {
      graph: x.graph,
    });
  }
  const zero = int32Const(x, [0]);
  const count = floorDiv(prod(shapeOf(x), zero), maximum(prod(shapeOf(y), zero), 1));
  return cast(count, dtype);
}
