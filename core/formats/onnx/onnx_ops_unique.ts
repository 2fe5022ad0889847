/**
 * ONNX Unique from pairwise comparisons (static shapes): the input's rows (its elements, or its
 * slices along `axis` flattened in C order) are compared all against all; a row is a first
 * occurrence when no earlier row equals it. Unsorted, the unique rows come in first-occurrence
 * order; sorted, a unique row's place is the count of unique rows lexicographically below it.
 * Equality is Equal's: -0 equals 0, and every NaN is a row of its own (numpy's unique, ONNX's
 * reference, collapses NaNs).
 */
import type { Output } from "../../graph.ts";
import { Tensor } from "../../tensor.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

/** n²·r comparisons: larger inputs are refused rather than compared pairwise. */
const MAX_COMPARISONS = 1 << 22;

const int32 = (c: OnnxNodeContext, o: Output) => c.out("Cast", [o], { DstT: "int32" });
const int64 = (c: OnnxNodeContext, o: Output) => c.out("Cast", [o], { DstT: "int64" });
const sumOver = (c: OnnxNodeContext, o: Output, axis: number) =>
  c.out("Sum", [int32(c, o), c.scalar(axis, "int32")]);

export const UNIQUE_MAPPERS: Record<string, OnnxMapper> = {
  Unique: (c) => {
    const x = c.req(0), d = c.dims(x);
    const axisAttr = c.attr("axis"), given = c.int("axis", 0);
    const axis = given < 0 ? given + d.length : given;
    if (axisAttr && !(axis >= 0 && axis < d.length)) {
      throw c.error(`axis ${given} is out of range for rank ${d.length}`);
    }
    // [n, r] rows, and how to turn picked rows back into ONNX's Y.
    const perm = axisAttr ? [axis, ...d.keys().filter((i) => i !== axis)] : [];
    const rest = perm.slice(1).map((i) => d[i]);
    const n = axisAttr ? d[axis] : d.reduce((a, b) => a * b, 1);
    const r = rest.reduce((a, b) => a * b, 1);
    c.limit(n * n * r, MAX_COMPARISONS, "Unique's pairwise comparisons");
    const moved = axisAttr ? c.out("Transpose", [x, c.ints32(perm)]) : x;
    const rows = c.out("Reshape", [moved, c.ints32([n, r])]);
    const a = c.out("ExpandDims", [rows, c.scalar(1, "int32")]); // [n, 1, r]: row i
    const b = c.out("ExpandDims", [rows, c.scalar(0, "int32")]); // [1, n, r]: row j
    const same = c.out("Equal", [sumOver(c, c.out("NotEqual", [a, b]), 2), c.scalar(0, "int32")]);
    const earlier = c.constant(
      new Tensor(
        "bool",
        [n, n],
        Uint8Array.from({ length: n * n }, (_, q) => (q % n < Math.floor(q / n) ? 1 : 0)),
      ),
    );
    const seen = sumOver(c, c.out("LogicalAnd", [same, earlier]), 1);
    const first = c.out("Equal", [seen, c.scalar(0, "int32")]); // [n]
    const firsts = c.out("Reshape", [c.out("Where", [first]), c.ints32([-1])]); // [u] int64
    // Each row's first occurrence: the first j whose row equals it.
    const firstOf = c.out("ArgMax", [int32(c, same), c.scalar(1, "int32")]);
    let indices: Output, place: Output;
    if (c.int("sorted", 1) === 0) {
      indices = firsts;
      // A first occurrence's place among them: how many came before it, itself included, − 1.
      place = c.out("Sub", [
        c.out("Cumsum", [int32(c, first), c.scalar(0, "int32")]),
        c.scalar(1, "int32"),
      ]);
    } else {
      // rows[i] < rows[j]: below in the first column where they differ.
      const below = c.out("Less", [a, b]);
      const equalSoFar = c.out(
        "Cumprod",
        [int32(c, c.out("Equal", [a, b])), c.scalar(2, "int32")],
        {
          exclusive: true,
        },
      );
      const less = c.out("Greater", [
        c.out("Sum", [c.out("Mul", [int32(c, below), equalSoFar]), c.scalar(2, "int32")]),
        c.scalar(0, "int32"),
      ]);
      // place[i]: the unique rows below row i.
      place = sumOver(
        c,
        c.out("LogicalAnd", [c.out("ExpandDims", [first, c.scalar(1, "int32")]), less]),
        0,
      );
      const placeOfFirsts = c.out("GatherV2", [place, firsts, c.scalar(0, "int32")]);
      const u = c.out("Reshape", [c.out("Shape", [firsts], { out_type: "int32" }), c.ints32([])]);
      const slots = c.out("Range", [c.scalar(0, "int32"), u, c.scalar(1, "int32")]);
      // For each sorted slot p, the first occurrence whose place is p.
      const order = c.out("ArgMax", [
        int32(
          c,
          c.out("Equal", [
            c.out("ExpandDims", [placeOfFirsts, c.scalar(0, "int32")]),
            c.out("ExpandDims", [slots, c.scalar(1, "int32")]),
          ]),
        ),
        c.scalar(1, "int32"),
      ]);
      indices = c.out("GatherV2", [firsts, order, c.scalar(0, "int32")]);
    }
    const picked = c.out("GatherV2", [rows, indices, c.scalar(0, "int32")]); // [u, r]
    let y = c.out("Reshape", [picked, c.ints32([-1, ...rest])]);
    if (axisAttr) y = c.out("Transpose", [y, c.ints32(perm.map((_, i) => perm.indexOf(i)))]);
    const inverse = int64(c, c.out("GatherV2", [place, firstOf, c.scalar(0, "int32")]));
    const counts = int64(
      c,
      sumOver(c, c.out("GatherV2", [same, indices, c.scalar(0, "int32")]), 1),
    );
    return [y, indices, inverse, counts];
  },
};
