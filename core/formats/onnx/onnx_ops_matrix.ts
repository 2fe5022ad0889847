/**
 * ONNX ops that build or mask matrices from index grids: Trilu and EyeLike compare a column
 * index minus a row index with the diagonal offset k.
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";
import { dtypeFromOnnx } from "./onnx_tensor.ts";

/** j − i over the last two dims of `x` (int32, broadcastable to x's shape). */
function diagonalOffset(c: OnnxNodeContext, x: Output): Output {
  const rank = c.rank(x);
  const dims = c.out("Shape", [x]);
  const dim = (i: number) =>
    c.out("Reshape", [c.out("Slice", [dims, c.ints32([i]), c.ints32([1])]), c.ints32([])]);
  const rows = c.out("Range", [c.scalar(0, "int32"), dim(rank - 2), c.scalar(1, "int32")]);
  const cols = c.out("Range", [c.scalar(0, "int32"), dim(rank - 1), c.scalar(1, "int32")]);
  return c.out("Sub", [
    c.out("Reshape", [cols, c.ints32([1, -1])]),
    c.out("Reshape", [rows, c.ints32([-1, 1])]),
  ]);
}

export const MATRIX_MAPPERS: Record<string, OnnxMapper> = {
  Trilu: (c) => {
    const x = c.req(0);
    const kIn = c.input(1);
    const k = kIn
      ? c.out("Reshape", [c.out("Cast", [kIn], { DstT: "int32" }), c.ints32([])])
      : c.scalar(0, "int32");
    const d = diagonalOffset(c, x);
    const keep = c.out(c.int("upper", 1) !== 0 ? "GreaterEqual" : "LessEqual", [d, k]);
    return [c.out("SelectV2", [keep, x, c.out("ZerosLike", [x])])];
  },
  EyeLike: (c) => {
    const x = c.req(0);
    if (c.rank(x) !== 2) throw c.error(`the input must be 2-D, it has rank ${c.rank(x)}`);
    const dtype = c.attr("dtype")
      ? dtypeFromOnnx(c.int("dtype", 1), `${c.file}: ${c.node.path} attribute 'dtype'`)
      : x.dtype;
    const on = c.out("Equal", [diagonalOffset(c, x), c.scalar(c.int("k", 0), "int32")]);
    return [c.out("Cast", [on], { DstT: dtype })];
  },
};
