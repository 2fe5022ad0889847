// Known values for the shape, movement, gather and select ops. Expected arrays marked "numpy"
// were computed with numpy 1.24 (Debian's /usr/bin/python3) and pasted as literals.
import assert from "node:assert/strict";
import { EdgeflowError } from "../core/errors.ts";
import { Graph, resolveAttrs } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import type { OpDef } from "../core/op.ts";
import { Tensor, tensor } from "../core/tensor.ts";
import type { DType } from "../core/dtype.ts";
import { placeholder } from "../core/ops/basic.ts";
import { Cast, cast } from "../core/ops/cast.ts";
import { Fill, fill, OnesLike, Range, range, ZerosLike } from "../core/ops/fill.ts";
import { gather, GatherV2 } from "../core/ops/gather.ts";
import { concat, ConcatV2, Pack, stack, Unpack, unstack } from "../core/ops/join.ts";
import { Pad, pad, Tile, tile } from "../core/ops/pad_tile.ts";
import { OneHot, oneHot, SelectV2, where } from "../core/ops/select.ts";
import {
  ExpandDims,
  expandDims,
  Reshape,
  reshape,
  Shape,
  shape,
  Squeeze,
  squeeze,
} from "../core/ops/shape_ops.ts";
import { Slice, slice, StridedSlice, stridedSlice } from "../core/ops/slice.ts";
import { resolveStridedSlice, type StridedSliceMasks } from "../core/ops/slice_spec.ts";
import { resolveTranspose, Transpose, transpose } from "../core/ops/transpose.ts";

type Input = Tensor | Tensor[];

/** Infers with constant values, runs the reference, and checks the two agree exactly. */
function run(op: OpDef, inputs: Input[], attrs: Record<string, unknown> = {}): Tensor[] {
  const resolved = resolveAttrs(op, attrs, inputs);
  const flat = inputs.flat();
  const inferred = op.infer(
    flat.map((t) => ({ dtype: t.dtype, shape: t.shape, value: t })),
    resolved,
  );
  const outs = op.reference(flat, resolved, new MapHostContext());
  outs.forEach((t, i) => {
    assert.equal(t.dtype, inferred[i].dtype);
    assert.deepEqual(t.shape, inferred[i].shape);
  });
  return outs;
}
/** The reference alone, as a kernel meets its inputs: inference had no values. */
function runBlind(op: OpDef, inputs: Input[], attrs: Record<string, unknown> = {}): Tensor[] {
  const resolved = resolveAttrs(op, attrs, inputs);
  const flat = inputs.flat();
  op.infer(flat.map((t) => ({ dtype: t.dtype, shape: t.shape })), resolved);
  return op.reference(flat, resolved, new MapHostContext());
}
function expect(t: Tensor, shape: number[], values: unknown[]) {
  assert.deepEqual(t.shape, shape);
  assert.deepEqual([t.toArray()].flat(Infinity as 1), values);
}
/** Both with and without constant values the op must fail with an EdgeflowError. */
function fails(op: OpDef, inputs: Input[], attrs: Record<string, unknown>, message: RegExp) {
  assert.throws(
    () => run(op, inputs, attrs),
    (e) => e instanceof EdgeflowError && message.test(e.message),
  );
  assert.throws(
    () => runBlind(op, inputs, attrs),
    (e) => e instanceof EdgeflowError && message.test(e.message),
  );
}
const i32 = (v: unknown) => tensor(v as never, undefined, "int32");
const f32 = (v: unknown) => tensor(v as never, undefined, "float32");
const arange = (n: number, dims: number[], dtype: DType = "int32") =>
  Tensor.fromNumbers(dtype, dims, Array.from({ length: n }, (_, i) => i));
const x234 = arange(24, [2, 3, 4]);

// ---- shape family ------------------------------------------------------------------------

Deno.test("Reshape fills the one -1 and rejects incompatible sizes", () => {
  expect(run(Reshape, [arange(6, [6]), i32([3, -1])])[0], [3, 2], [0, 1, 2, 3, 4, 5]);
  expect(run(Reshape, [arange(1, [1, 1]), i32([])])[0], [], [0]);
  fails(Reshape, [arange(6, [6]), i32([-1, -1])], {}, /one -1/);
  fails(Reshape, [arange(6, [6]), i32([4])], {}, /6 elements to \[4\]/);
  fails(Reshape, [arange(6, [6]), i32([4, -1])], {}, /not a multiple of 4/);
});

Deno.test("ExpandDims, Squeeze and Shape", () => {
  expect(run(ExpandDims, [arange(6, [2, 3]), i32(-1)])[0], [2, 3, 1], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(run(ExpandDims, [arange(6, [2, 3]), i32(0)])[0].shape, [1, 2, 3]);
  fails(ExpandDims, [arange(6, [2, 3]), i32(3)], {}, /out of range/);
  const x = arange(6, [1, 2, 1, 3]);
  assert.deepEqual(run(Squeeze, [x])[0].shape, [2, 3]);
  assert.deepEqual(run(Squeeze, [x], { squeeze_dims: [-2] })[0].shape, [1, 2, 3]);
  fails(Squeeze, [x], { squeeze_dims: [1] }, /cannot squeeze dim 1.*got 2/);
  expect(run(Shape, [x])[0], [4], [1, 2, 1, 3]);
  assert.equal(run(Shape, [x], { out_type: "int64" })[0].dtype, "int64");
});

Deno.test("Fill, ZerosLike and OnesLike keep every dtype's storage", () => {
  expect(run(Fill, [i32([2, 2]), f32(7.5)])[0], [2, 2], [7.5, 7.5, 7.5, 7.5]);
  expect(run(Fill, [i32([3]), tensor("a")])[0], [3], ["a", "a", "a"]);
  fails(Fill, [i32([2]), f32([1, 2])], {}, /value must be a scalar/);
  fails(Fill, [i32([2, -1]), f32(1)], {}, /non-negative/);
  expect(run(ZerosLike, [tensor(["x", "y"])])[0], [2], ["", ""]);
  expect(run(OnesLike, [tensor([false, true])])[0], [2], [true, true]);
  expect(run(OnesLike, [tensor([5n], [1], "int64")])[0], [1], [1n]);
});

Deno.test("Range matches numpy.arange and rejects bad deltas", () => {
  expect(run(Range, [i32(3), i32(18), i32(3)])[0], [5], [3, 6, 9, 12, 15]); // numpy
  expect(run(Range, [i32(5), i32(1), i32(-2)])[0], [2], [5, 3]); // numpy
  expect(run(Range, [f32(0), f32(1), f32(0.25)])[0], [4], [0, 0.25, 0.5, 0.75]); // numpy
  assert.equal(run(Range, [i32(0), i32(0), i32(1)])[0].size, 0);
  fails(Range, [i32(0), i32(5), i32(0)], {}, /delta != 0/);
  fails(Range, [i32(5), i32(1), i32(1)], {}, /start <= limit/);
  fails(Range, [i32(1), i32(5), i32(-1)], {}, /start >= limit/);
});

Deno.test("Cast converts as a C cast, exactly from int64, and honours Truncate", () => {
  const x = f32([-1.7, 2.5, 300]);
  expect(run(Cast, [x], { DstT: "int32" })[0], [3], [-1, 2, 300]);
  expect(run(Cast, [x], { DstT: "uint8" })[0], [3], [255, 2, 44]); // numpy via int32
  expect(run(Cast, [f32([0, 0.5, -2, NaN])], { DstT: "bool" })[0], [4], [false, true, true, true]);
  expect(run(Cast, [f32([NaN, Infinity])], { DstT: "int32" })[0], [2], [0, 0]);
  const big = tensor([2n ** 40n + 5n, -(2n ** 40n) - 1n], [2], "int64");
  expect(run(Cast, [big], { DstT: "int32" })[0], [2], [5, -1]);
  expect(run(Cast, [big], { DstT: "int8" })[0], [2], [5, -1]);
  // bfloat16 keeps 8 significant bits: 1.014 rounds up to 1.015625 but truncates to 1.0078125.
  expect(run(Cast, [f32([1.014])], { DstT: "bfloat16" })[0], [1], [1.015625]);
  expect(run(Cast, [f32([1.014])], { DstT: "bfloat16", Truncate: true })[0], [1], [1.0078125]);
  expect(run(Cast, [f32([1.0009])], { DstT: "float16" })[0], [1], [1.0009765625]); // numpy
  expect(run(Cast, [f32([1.0009])], { DstT: "float16", Truncate: true })[0], [1], [1]);
});

// ---- movement family ---------------------------------------------------------------------

Deno.test("Transpose matches numpy and validates perm", () => {
  expect(run(Transpose, [x234, i32([2, 0, 1])])[0], [4, 2, 3], [
    0,
    4,
    8,
    12,
    16,
    20,
    1,
    5,
    9,
    13,
    17,
    21,
    2,
    6,
    10,
    14,
    18,
    22,
    3,
    7,
    11,
    15,
    19,
    23,
  ]); // numpy
  fails(Transpose, [x234, i32([0, 0, 1])], {}, /appears twice/);
  fails(Transpose, [x234, i32([0, 1, 3])], {}, /out of range/);
  fails(Transpose, [x234, i32([0, 1])], {}, /3 entries/);
});

Deno.test("resolveTranspose collapses dims that stay adjacent", () => {
  const nhwcToNchw = resolveTranspose([2, 3, 4, 5], [0, 3, 1, 2]);
  assert.deepEqual(nhwcToNchw.collapsed, { shape: [2, 12, 5], perm: [0, 2, 1] });
  assert.deepEqual(nhwcToNchw.inStrides, [60, 1, 20, 5]);
  const onlyOnes = resolveTranspose([1, 3, 1, 4], [2, 1, 0, 3]);
  assert.deepEqual(onlyOnes.collapsed, { shape: [12], perm: [0] });
  assert.ok(onlyOnes.isIdentity);
  assert.ok(!resolveTranspose([2, 3], [1, 0]).isIdentity);
});

Deno.test("Slice takes size -1 to the end and does not clamp", () => {
  expect(run(Slice, [x234, i32([1, 0, 1]), i32([1, -1, 2])])[0], [1, 3, 2], [
    13,
    14,
    17,
    18,
    21,
    22,
  ]); // numpy x[1:2, 0:, 1:3]
  fails(Slice, [x234, i32([0, 4, 0]), i32([1, 1, 1])], {}, /begin\[1\] in \[0, 3\]/);
  fails(Slice, [x234, i32([0, 1, 0]), i32([1, 3, 1])], {}, /size\[1\] in \[0, 2\]/);
});

/** begin/end/strides and masks for a Python index expression, as tf's __getitem__ builds them. */
function parseSpec(
  spec: string,
): { begin: number[]; end: number[]; strides: number[]; masks: StridedSliceMasks } {
  const masks = {
    begin_mask: 0,
    end_mask: 0,
    ellipsis_mask: 0,
    new_axis_mask: 0,
    shrink_axis_mask: 0,
  };
  const begin: number[] = [], end: number[] = [], strides: number[] = [];
  spec.split(",").map((s) => s.trim()).forEach((item, i) => {
    const bit = 1 << i;
    if (item === "..." || item === "None") {
      begin.push(0), end.push(0), strides.push(1);
      if (item === "...") masks.ellipsis_mask |= bit;
      else masks.new_axis_mask |= bit;
    } else if (!item.includes(":")) {
      const b = Number(item);
      begin.push(b), end.push(b + 1), strides.push(1);
      masks.shrink_axis_mask |= bit;
    } else {
      const [b, e, s] = item.split(":");
      if (b === "") masks.begin_mask |= bit;
      if (e === "") masks.end_mask |= bit;
      begin.push(Number(b || 0)), end.push(Number(e || 0)), strides.push(Number(s || 1));
    }
  });
  return { begin, end, strides, masks };
}

// [input, index expression, numpy's shape, numpy's values]: numpy
const STRIDED_CASES: [string, string, number[], number[]][] = [
  ["x", "1:, ::-1, None, -2", [1, 3, 1], [22, 18, 14]],
  ["x", "..., 1", [2, 3], [1, 5, 9, 13, 17, 21]],
  ["x", "0, ..., None", [3, 4, 1], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
  ["x", "::2, 1:-1, ::-3", [1, 1, 2], [7, 4]],
  ["x", "-1", [3, 4], [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]],
  ["x", ":, -100:100, 2:", [2, 3, 2], [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23]],
  ["x", "None, ..., None", [1, 2, 3, 4, 1], Array.from({ length: 24 }, (_, i) => i)],
  ["x", "..., None, 1:3", [2, 3, 1, 2], [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22]],
  ["x", "1, ..., 2", [3], [14, 18, 22]],
  ["x", "1:0", [0, 3, 4], []],
  ["x", ":, ::-2, -1:-5:-1", [2, 2, 4], [11, 10, 9, 8, 3, 2, 1, 0, 23, 22, 21, 20, 15, 14, 13, 12]],
  ["x", "..., ::-1, None", [2, 3, 4, 1], [
    3,
    2,
    1,
    0,
    7,
    6,
    5,
    4,
    11,
    10,
    9,
    8,
    15,
    14,
    13,
    12,
    19,
    18,
    17,
    16,
    23,
    22,
    21,
    20,
  ]],
  ["v", "5:0:-2", [3], [5, 3, 1]],
  ["v", "::-1", [10], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]],
  ["v", "-3:", [3], [7, 8, 9]],
  ["v", "8:-100:-3", [3], [8, 5, 2]],
  ["v", "-100:3", [3], [0, 1, 2]],
  ["s", "None", [1], [7]],
  ["s", "...", [], [7]],
  ["s", "None, ..., None", [1, 1], [7]],
];

Deno.test("StridedSlice matches numpy slicing, masks and clamping included", () => {
  const inputs: Record<string, Tensor> = {
    x: x234,
    v: arange(10, [10]),
    s: Tensor.fromNumbers("int32", [], [7]),
  };
  for (const [name, spec, shape, values] of STRIDED_CASES) {
    const { begin, end, strides, masks } = parseSpec(spec);
    const [out] = run(StridedSlice, [inputs[name], i32(begin), i32(end), i32(strides)], masks);
    assert.deepEqual(out.shape, shape, `${name}[${spec}] shape`);
    assert.deepEqual(out.toNumbers(), values, `${name}[${spec}] values`);
  }
});

Deno.test("StridedSlice errors and partial inference", () => {
  const args = (spec: string) => {
    const p = parseSpec(spec);
    return { inputs: [x234, i32(p.begin), i32(p.end), i32(p.strides)], masks: p.masks };
  };
  for (
    const [spec, message] of [
      ["2", /index 2 is out of bounds for dim 0/],
      ["0, 0, 0, 0", /too many indices/],
      ["::0", /strides\[0\] must be non-zero/],
    ] as const
  ) {
    const { inputs, masks } = args(spec);
    fails(StridedSlice, inputs, masks, message);
  }
  const { inputs, masks } = args("..., 1:2");
  fails(StridedSlice, inputs, { ...masks, ellipsis_mask: 3 }, /one ellipsis/);
  // Unknown dims stay unknown unless shrunk; unknown begin/end still give masked full ranges.
  const spec = resolveStridedSlice([-1, 3, 4], [0, 0, 1], [0, 0, 3], [1, -1, 1], {
    ...parseSpec(":, :, 1:3").masks,
  });
  assert.deepEqual(spec.finalShape, [-1, 3, 2]);
  const unknownValues = resolveStridedSlice([5, 3, 4], undefined, undefined, [1, 1, 2], {
    begin_mask: 2,
    end_mask: 2,
    ellipsis_mask: 0,
    new_axis_mask: 0,
    shrink_axis_mask: 1,
  });
  assert.deepEqual(unknownValues.finalShape, [3, -1]);
});

Deno.test("ConcatV2, Pack and Unpack match numpy", () => {
  const a = arange(2, [2, 1]), b = Tensor.fromNumbers("int32", [2, 2], [10, 11, 12, 13]);
  expect(run(ConcatV2, [[a, b], i32(-1)])[0], [2, 3], [0, 10, 11, 1, 12, 13]); // numpy
  expect(run(ConcatV2, [[tensor(["a"]), tensor(["b", "c"])], i32(0)])[0], [3], ["a", "b", "c"]);
  fails(ConcatV2, [[a, arange(2, [2])], i32(0)], {}, /one rank/);
  fails(ConcatV2, [[a, b], i32(0)], {}, /disagree on dim 1/);
  fails(ConcatV2, [[i32(1), i32(2)], i32(0)], {}, /scalars/);
  const m = arange(6, [2, 3]),
    n = Tensor.fromNumbers("int32", [2, 3], [100, 101, 102, 103, 104, 105]);
  expect(run(Pack, [[m, n]], { axis: 1 })[0], [2, 2, 3], [
    0,
    1,
    2,
    100,
    101,
    102,
    3,
    4,
    5,
    103,
    104,
    105,
  ]); // numpy.stack(axis=1)
  fails(Pack, [[m, a]], {}, /shape/);
  const parts = run(Unpack, [m], { num: 3, axis: -1 });
  assert.deepEqual(parts.map((p) => p.toNumbers()), [[0, 3], [1, 4], [2, 5]]); // numpy
  fails(Unpack, [m], { num: 2, axis: -1 }, /num = 2 does not match/);
});

Deno.test("Pad and Tile match numpy", () => {
  const a = arange(6, [2, 3]);
  expect(run(Pad, [a, i32([[1, 0], [0, 2]])])[0], [3, 5], [
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    2,
    0,
    0,
    3,
    4,
    5,
    0,
    0,
  ]); // numpy.pad
  expect(run(Pad, [tensor(["a"]), i32([[1, 1]])])[0], [3], ["", "a", ""]);
  fails(Pad, [a, i32([[1, -1], [0, 0]])], {}, /non-negative/);
  fails(Pad, [a, i32([[1, 1]])], {}, /2 rows|\[2, 2\]/);
  expect(run(Tile, [a, i32([2, 1])])[0], [4, 3], [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]); // numpy
  assert.deepEqual(run(Tile, [a, i32([0, 3])])[0].shape, [0, 9]);
  fails(Tile, [a, i32([1])], {}, /2 entries/);
});

// ---- gather / select ---------------------------------------------------------------------

Deno.test("GatherV2 matches numpy.take, with batch_dims, and names a bad index", () => {
  const p = arange(12, [3, 4]);
  expect(run(GatherV2, [p, i32([[2, 0], [3, 3]]), i32(1)])[0], [3, 2, 2], [
    2,
    0,
    3,
    3,
    6,
    4,
    7,
    7,
    10,
    8,
    11,
    11,
  ]); // numpy.take(axis=1)
  expect(run(GatherV2, [x234, i32([[2, 0], [1, 1]]), i32(2)], { batch_dims: 1 })[0], [2, 3, 2], [
    2,
    0,
    6,
    4,
    10,
    8,
    13,
    13,
    17,
    17,
    21,
    21,
  ]); // numpy, per batch
  assert.throws(
    () => run(GatherV2, [p, i32([0, 5]), i32(0)]),
    (e) => e instanceof EdgeflowError && /indices\[1\] = 5 is not in \[0, 3\)/.test(e.message),
  );
  fails(GatherV2, [p, i32([0]), i32(2)], {}, /out of range/);
  fails(GatherV2, [x234, i32([[0], [1]]), i32(0)], { batch_dims: 1 }, /less than or equal to axis/);
});

Deno.test("SelectV2 broadcasts all three inputs like numpy.where", () => {
  const cond = tensor([[true], [false], [true]]);
  expect(run(SelectV2, [cond, arange(4, [1, 4]), i32(-1)])[0], [3, 4], [
    0,
    1,
    2,
    3,
    -1,
    -1,
    -1,
    -1,
    0,
    1,
    2,
    3,
  ]); // numpy
  fails(SelectV2, [cond, arange(4, [2, 2]), i32(-1)], {}, /cannot be broadcast/);
});

Deno.test("OneHot gives all-off rows for out-of-range indices", () => {
  const on = i32(5), off = i32(-1);
  expect(run(OneHot, [i32([0, 2, -1, 3]), i32(3), on, off])[0], [4, 3], [
    5,
    -1,
    -1,
    -1,
    -1,
    5,
    -1,
    -1,
    -1,
    -1,
    -1,
    -1,
  ]);
  expect(run(OneHot, [i32([0, 2]), i32(3), on, off], { axis: 0 })[0], [3, 2], [
    5,
    -1,
    -1,
    -1,
    -1,
    5,
  ]);
  fails(OneHot, [i32([0]), i32(-2), on, off], {}, /depth must be non-negative/);
  fails(OneHot, [i32([0]), i32(2), on, off], { axis: 2 }, /axis 2/);
});

// ---- builders and graph-level inference --------------------------------------------------

Deno.test("builders infer shapes on partial inputs", () => new Graph().asDefault(builderChecks));

function builderChecks() {
  const g = Graph.current()!;
  const x = placeholder(g, "float32", [null, 3, 4]);
  const s = (o: { shape: unknown }) => o.shape;
  assert.deepEqual(s(reshape(x, [-1, 2])), [-1, 2]);
  assert.deepEqual(s(reshape(x, placeholder(g, "int32", [3]))), [-1, -1, -1]);
  assert.deepEqual(s(expandDims(x, 0)), [1, -1, 3, 4]);
  assert.deepEqual(s(squeeze(reshape(x, [-1, 1, 12]), [1])), [-1, 12]);
  assert.deepEqual(s(shape(x)), [3]);
  assert.equal(cast(x, "int32").dtype, "int32");
  assert.equal(fill([2, 3], 1.5).dtype, "float32");
  assert.deepEqual(s(range(0, 5)), [5]);
  assert.equal(range(0, 1, 0.25).dtype, "float32");
  assert.deepEqual(s(transpose(x)), [4, 3, -1]);
  assert.deepEqual(s(slice(x, [0, 1, 0], [-1, 2, -1])), [-1, 2, 4]);
  assert.deepEqual(s(stridedSlice(x, [0], [1], undefined, { shrink_axis_mask: 1 })), [3, 4]);
  assert.deepEqual(s(concat([x, x], 1)), [-1, 6, 4]);
  assert.equal(concat([x], 0).node.op.name, "Identity");
  assert.deepEqual(s(stack([x, x], { axis: 1 })), [-1, 2, 3, 4]);
  const parts = unstack(x, { axis: 1 });
  assert.deepEqual(parts.map(s), [[-1, 4], [-1, 4], [-1, 4]]);
  assert.deepEqual(s(pad(x, [[0, 0], [1, 1], [2, 2]])), [-1, 5, 8]);
  assert.deepEqual(s(tile(x, [2, 1, 0])), [-1, 3, 0]);
  assert.deepEqual(s(gather(x, [0, 2], 1)), [-1, 2, 4]);
  assert.deepEqual(s(where(placeholder(g, "bool", [3, 1]), x, 0)), [-1, 3, 4]);
  const hot = oneHot([1, 2], 4);
  assert.equal(hot.dtype, "float32");
  assert.deepEqual(s(hot), [2, 4]);
  assert.throws(() => reshape(x, [5, 5]), EdgeflowError);
}
