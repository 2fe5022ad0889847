/**
 * ONNX TopK without a sort op: along the (static, bounded) axis, each element's rank is the
 * count of elements that beat it (larger, or equal and earlier: ONNX's stable order), and a
 * one-hot of the ranks below k picks the values and their indices in sorted order.
 */
import type { Output } from "../../graph.ts";
import { Tensor } from "../../tensor.ts";
import type { OnnxMapper } from "./onnx_context.ts";

/** n² comparisons per row: longer axes are refused rather than compared pairwise. */
const MAX_AXIS = 4096;

export const TOPK_MAPPERS: Record<string, OnnxMapper> = {
  TopK: (c) => {
    let x = c.req(0);
    const rank = c.rank(x);
    let axis = c.int("axis", -1);
    if (axis < 0) axis += rank;
    const n = c.dims(x)[axis];
    c.limit(n, MAX_AXIS, "the TopK axis length (compared pairwise)");
    const [k] = c.opset >= 10 ? c.constInts(1, "k") : [c.int("k", 0)];
    if (!(k >= 0 && k <= n)) throw c.error(`k ${k} is outside [0, ${n}]`);
    const largest = c.int("largest", 1) !== 0;
    // The axis last, so rows are [..., n].
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[axis], perm[rank - 1]] = [perm[rank - 1], perm[axis]];
    if (axis !== rank - 1) x = c.out("Transpose", [x, c.ints32(perm)]);
    const mine = c.out("ExpandDims", [x, c.scalar(-1, "int32")]); // [..., n(i), 1]
    const other = c.out("ExpandDims", [x, c.scalar(-2, "int32")]); // [..., 1, n(j)]
    const earlier = c.constant(
      new Tensor(
        "bool",
        [n, n],
        Uint8Array.from({ length: n * n }, (_, q) => {
          const i = Math.floor(q / n), j = q % n;
          return j < i ? 1 : 0;
        }),
      ),
    );
    const beats = c.out("LogicalOr", [
      c.out(largest ? "Greater" : "Less", [other, mine]),
      c.out("LogicalAnd", [c.out("Equal", [other, mine]), earlier]),
    ]);
    const ranks = c.out("Sum", [c.out("Cast", [beats], { DstT: "int32" }), c.scalar(-1, "int32")]);
    // [..., n, k]: element i goes to slot ranks[i] when that is below k.
    const picks = c.out("OneHot", [
      ranks,
      c.scalar(k, "int32"),
      c.scalar(true, "bool"),
      c.scalar(
        false,
        "bool",
      ),
    ], { axis: -1 });
    const pick = (v: Output) => {
      const spread = c.out("ExpandDims", [v, c.scalar(-1, "int32")]);
      return c.out("Sum", [
        c.out("SelectV2", [picks, spread, c.out("ZerosLike", [spread])]),
        c.scalar(-2, "int32"),
      ]);
    };
    const iota = c.out("Range", [c.scalar(0, "int64"), c.scalar(n, "int64"), c.scalar(1, "int64")]);
    let values = pick(x);
    let indices = pick(
      c.out("Mul", [c.out("OnesLike", [c.out("Cast", [x], { DstT: "int64" })]), iota]),
    );
    if (axis !== rank - 1) {
      values = c.out("Transpose", [values, c.ints32(perm)]);
      indices = c.out("Transpose", [indices, c.ints32(perm)]);
    }
    return [values, indices];
  },
};
