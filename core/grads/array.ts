/**
 * Gradient functions of the movement ops, after TensorFlow's array_grad.py: reshapes, Transpose,
 * ConcatV2, Pack/Unpack, Slice, StridedSlice, Pad, Tile, GatherV2, SelectV2 and Fill.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { isFullyDefined, normalizeAxis, type Shape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { constant } from "../ops/basic.ts";
import { add, sub } from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { zerosLike } from "../ops/fill.ts";
import {
  concatOffset,
  invertPermutation,
  stridedSliceGrad,
  unsortedSegmentSum,
} from "../ops/grad_array.ts";
import { stack, unstack } from "../ops/join.ts";
import { pad } from "../ops/pad_tile.ts";
import { sum } from "../ops/reduce.ts";
import { where } from "../ops/select.ts";
import { range } from "../ops/fill.ts";
import { reshape, shape as shapeOp } from "../ops/shape_ops.ts";
import { slice } from "../ops/slice.ts";
import { transpose } from "../ops/transpose.ts";
import { constInts, int32Const, shapeOf, unbroadcastTo } from "./util.ts";

type Dys = readonly (Output | null)[];

function scalarConst(like: Output, dtype: DType, value: number): Output {
  return constant(Tensor.fromNumbers(dtype, [], [value]), { graph: like.graph });
}
type Grads = (Output | null)[];

/** Reshape, ExpandDims and Squeeze: the gradient takes the input's shape back. */
export function reshapeGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const x = node.inputs[0];
  return [reshape(dy!, shapeOf(x)), ...node.inputs.slice(1).map(() => null)];
}

export function transposeGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const perm = node.inputs[1];
  const p = constInts(perm);
  let inverse: Output;
  if (p) {
    const inv = new Array<number>(p.length);
    p.forEach((d, i) => (inv[d] = i));
    inverse = int32Const(dy!, inv);
  } else inverse = invertPermutation(perm);
  return [transpose(dy!, inverse), null];
}

/** Each input's gradient is its block of dy: Slice at the input's offset along the axis. */
export function concatGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const values = node.inputs.slice(0, -1);
  const axisInput = node.inputs[node.inputs.length - 1];
  const axis = constInts(axisInput)?.[0];
  const rank = values[0].shape?.length;
  if (axis !== undefined && rank !== undefined && values.every((v) => v.shape !== null)) {
    const a = normalizeAxis(axis, rank);
    const sizes = values.map((v) => (v.shape as Shape)[a]);
    if (sizes.every((s) => s >= 0)) {
      let at = 0;
      const grads = values.map((_, i) => {
        const begin = new Array<number>(rank).fill(0), size = new Array<number>(rank).fill(-1);
        begin[a] = at, size[a] = sizes[i];
        at += sizes[i];
        return slice(dy!, int32Const(dy!, begin), int32Const(dy!, size));
      });
      return [...grads, null];
    }
  }
  // Dynamic shapes: ConcatOffset gives each block's start, Shape its size.
  const dim = axisInput.dtype === "int32" ? axisInput : cast(axisInput, "int32");
  const shapes = values.map((v) => shapeOp(v));
  const offsets = concatOffset(dim, shapes);
  return [...values.map((_, i) => slice(dy!, offsets[i], shapes[i])), null];
}

export function packGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return unstack(dy!, { num: node.attrs.N, axis: node.attrs.axis });
}
export function unpackGrad(_: GradientContext, node: Node, dys: Dys): Grads {
  // The machinery fills unused outputs with zeros, so every piece is present.
  return [stack(dys as Output[], { axis: node.attrs.axis })];
}

/** Slice's gradient: dy padded with zeros back to the input's shape. */
export function sliceGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, begin] = node.inputs;
  const b = constInts(begin);
  if (b && isFullyDefined(x.shape) && isFullyDefined(dy!.shape)) {
    const xs = x.shape, ds = dy!.shape;
    const rows = b.flatMap((v, d) => [v, xs[d] - v - ds[d]]);
    const paddings = constant(Tensor.fromNumbers(begin.dtype, [b.length, 2], rows), {
      graph: x.graph,
    });
    return [pad(dy!, paddings), null, null];
  }
  const after = sub(
    sub(shapeOp(x, { out_type: begin.dtype }), begin),
    shapeOp(dy!, {
      out_type: begin.dtype,
    }),
  );
  return [pad(dy!, stack([begin, after], { axis: 1 })), null, null];
}

export function stridedSliceGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, begin, end, strides] = node.inputs;
  const { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask } = node.attrs;
  const grad = stridedSliceGrad(shapeOf(x, begin.dtype), begin, end, strides, dy!, {
    begin_mask,
    end_mask,
    ellipsis_mask,
    new_axis_mask,
    shrink_axis_mask,
  });
  return [grad, null, null, null];
}

/** Pad's gradient: the block of dy where the input landed. */
export function padGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, paddings] = node.inputs;
  const p = constInts(paddings);
  const begin = p ? int32Const(dy!, p.filter((_, i) => i % 2 === 0)) : reshape(
    slice(paddings, int32Const(dy!, [0, 0]), int32Const(dy!, [-1, 1])),
    int32Const(dy!, [-1]),
  );
  const size = p || paddings.dtype === "int32" ? shapeOf(x) : shapeOf(x, paddings.dtype);
  const b = p && paddings.dtype !== "int32" ? cast(begin, paddings.dtype) : begin;
  return [slice(dy!, b, size), null];
}

/** Tile's gradient: dy viewed as [m0, s0, m1, s1, ...] and summed over the multiples' dims. */
export function tileGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, multiples] = node.inputs;
  const m = constInts(multiples);
  if (m && isFullyDefined(x.shape)) {
    const xs = x.shape;
    const split = m.flatMap((k, d) => [k, xs[d]]);
    const axes = m.map((_, d) => 2 * d);
    const summed = sum(reshape(dy!, int32Const(dy!, split)), int32Const(dy!, axes));
    return [summed, null];
  }
  const pairs = stack([multiples, shapeOp(x, { out_type: multiples.dtype })]);
  const split = reshape(transpose(pairs, [1, 0]), int32Const(dy!, [-1]));
  const length = reshape(shapeOp(split, { out_type: multiples.dtype }), int32Const(dy!, []));
  const axes = range(
    scalarConst(x, multiples.dtype, 0),
    length,
    scalarConst(x, multiples.dtype, 2),
  );
  return [reshape(sum(reshape(dy!, split), axes), shapeOf(x)), null];
}

/**
 * GatherV2's gradient: dy's slices summed into the rows they were gathered from, with
 * UnsortedSegmentSum. The gather axis is moved to the front (as TensorFlow does); batch_dims
 * become part of the segment ids. Needs the axis as a constant and params' shape known, as do
 * the indices' shape with batch_dims.
 */
export function gatherGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [params, indices, axisInput] = node.inputs;
  const axisValue = constInts(axisInput)?.[0];
  if (axisValue === undefined || !isFullyDefined(params.shape)) {
    throw new EdgeflowError(
      "the gradient of GatherV2 needs a constant axis and params of fully known shape",
    );
  }
  const ps = params.shape;
  const axis = normalizeAxis(axisValue, ps.length);
  let batchDims = node.attrs.batch_dims as number;
  if (batchDims < 0) batchDims += indices.shape?.length ?? 0;
  if (batchDims > 0 && !isFullyDefined(indices.shape)) {
    throw new EdgeflowError(
      "the gradient of GatherV2 with batch_dims needs indices of known shape",
    );
  }
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const batch = prod(ps.slice(0, batchDims));
  const outer = prod(ps.slice(batchDims, axis)), axisDim = ps[axis];
  const inner = prod(ps.slice(axis + 1));
  // dy is [batch, outer, count, inner]; segments run over [batch * axisDim] rows of [outer, inner].
  const d4 = reshape(dy!, int32Const(dy!, [batch, outer, -1, inner]));
  const rows = reshape(transpose(d4, [0, 2, 1, 3]), int32Const(dy!, [-1, outer, inner]));
  let ids = reshape(indices, int32Const(dy!, batchDims > 0 ? [batch, -1] : [-1]));
  if (batchDims > 0) {
    const starts = Array.from({ length: batch }, (_, b) => b * axisDim);
    const offsets = constant(Tensor.fromNumbers(indices.dtype, [batch, 1], starts), {
      graph: dy!.graph,
    });
    ids = reshape(add(ids, offsets), int32Const(dy!, [-1]));
  }
  const summed = unsortedSegmentSum(rows, ids, scalarConst(dy!, "int32", batch * axisDim));
  const back = transpose(reshape(summed, int32Const(dy!, [batch, axisDim, outer, inner])), [
    0,
    2,
    1,
    3,
  ]);
  return [reshape(back, int32Const(dy!, ps)), null, null];
}

/** SelectV2: the gradient goes to t where the condition holds and to e elsewhere. */
export function selectGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [c, t, e] = node.inputs;
  const zeros = zerosLike(dy!);
  return [null, unbroadcastTo(where(c, dy!, zeros), t), unbroadcastTo(where(c, zeros, dy!), e)];
}

/** Fill: the scalar value's gradient is the sum of dy. */
export function fillGrad(_: GradientContext, __: Node, [dy]: Dys): Grads {
  return [null, sum(reshape(dy!, int32Const(dy!, [-1])), int32Const(dy!, [0]))];
}
