// Known values for the reductions. Expected arrays marked "numpy" were computed with numpy 1.24
// (Debian's /usr/bin/python3) and pasted as literals.
import assert from "node:assert/strict";
import { EdgeflowError } from "../core/errors.ts";
import { Graph, resolveAttrs } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import type { OpDef } from "../core/op.ts";
import { Tensor, tensor } from "../core/tensor.ts";
import { placeholder } from "../core/ops/basic.ts";
import { ArgMax, argMax, ArgMin, Max, max, Mean, Min, Prod, Sum, sum } from "../core/ops/reduce.ts";
import { reductionShape, resolveReduction } from "../core/ops/reduce_plan.ts";

function run(op: OpDef, inputs: Tensor[], attrs: Record<string, unknown> = {}): Tensor {
  const resolved = resolveAttrs(op, attrs, inputs);
  const [inferred] = op.infer(
    inputs.map((t) => ({ dtype: t.dtype, shape: t.shape, value: t })),
    resolved,
  );
  const [out] = op.reference(inputs, resolved, new MapHostContext());
  assert.equal(out.dtype, inferred.dtype);
  assert.deepEqual(out.shape, inferred.shape);
  return out;
}
function fails(op: OpDef, inputs: Tensor[], attrs: Record<string, unknown>, message: RegExp) {
  assert.throws(
    () => run(op, inputs, attrs),
    (e) => e instanceof EdgeflowError && message.test(e.message),
  );
  // The reference checks too, for kernels that run without inference having seen the values.
  const resolved = resolveAttrs(op, attrs, inputs);
  assert.throws(
    () => op.reference(inputs, resolved, new MapHostContext()),
    (e) => e instanceof EdgeflowError && message.test(e.message),
  );
}
const i32 = (v: unknown) => tensor(v as never, undefined, "int32");
const x = Tensor.fromNumbers("float32", [2, 3, 4], Array.from({ length: 24 }, (_, i) => i));
const xi = Tensor.fromNumbers("int32", [2, 3, 4], Array.from({ length: 24 }, (_, i) => i));

Deno.test("Sum, Mean, Max, Min over axes match numpy", () => {
  const s = run(Sum, [x, i32([0, -1])]);
  assert.deepEqual([s.shape, s.toNumbers()], [[3], [60, 92, 124]]); // numpy
  const k = run(Sum, [x, i32([2, 0])], { keep_dims: true });
  assert.deepEqual([k.shape, k.toNumbers()], [[1, 3, 1], [60, 92, 124]]); // numpy
  const m = run(Mean, [x, i32(-1)]);
  assert.deepEqual(m.toNumbers(), [1.5, 5.5, 9.5, 13.5, 17.5, 21.5]); // numpy
  assert.deepEqual(run(Max, [xi, i32([0])]).toNumbers(), [
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
  ]); // numpy
  assert.deepEqual(run(Min, [xi, i32([1, 2])]).toNumbers(), [0, 12]); // numpy
});

Deno.test("empty axes reduce nothing; all axes give a scalar", () => {
  const same = run(Sum, [x, i32([])], { keep_dims: true });
  assert.deepEqual(same.shape, [2, 3, 4]);
  assert.deepEqual(same.toNumbers(), x.toNumbers());
  const all = run(Sum, [x, i32([0, 1, 2])]);
  assert.deepEqual([all.shape, all.toNumbers()], [[], [276]]);
});

Deno.test("integer reductions wrap like TensorFlow and integer Mean truncates", () => {
  // numpy with dtype=int32: -2147479015 and -2147483639.
  assert.deepEqual(run(Prod, [i32([46341, 46341]), i32(0)]).toNumbers(), [-2147479015]);
  assert.deepEqual(run(Sum, [i32([2147483647, 10]), i32(0)]).toNumbers(), [-2147483639]);
  const int8 = Tensor.fromNumbers("int8", [2], [16, 16]);
  assert.deepEqual(run(Prod, [int8, i32(0)]).toNumbers(), [0]); // numpy int8
  assert.deepEqual(run(Mean, [i32([[1, 2], [-1, -2]]), i32(1)]).toNumbers(), [1, -1]);
  // int64 accumulates exactly past 2^53.
  const big = tensor([2n ** 53n, 1n, 1n], [3], "int64");
  assert.equal((run(Sum, [big, i32(0)]).data as BigInt64Array)[0], 2n ** 53n + 2n);
  assert.equal((run(Max, [big, i32(0)]).data as BigInt64Array)[0], 2n ** 53n);
});

Deno.test("Max and Min propagate NaN; empty reductions give the identity", () => {
  const withNaN = Tensor.fromNumbers("float32", [3], [1, NaN, 3]);
  assert.ok(Number.isNaN(run(Max, [withNaN, i32(0)]).toNumbers()[0]));
  assert.ok(Number.isNaN(run(Min, [withNaN, i32(0)]).toNumbers()[0]));
  const empty = Tensor.zeros("float32", [2, 0]);
  assert.deepEqual(run(Sum, [empty, i32(1)]).toNumbers(), [0, 0]);
  assert.deepEqual(run(Prod, [empty, i32(1)]).toNumbers(), [1, 1]);
  assert.deepEqual(run(Max, [empty, i32(1)]).toNumbers(), [-Infinity, -Infinity]);
  assert.deepEqual(run(Min, [Tensor.zeros("int8", [0]), i32(0)]).toNumbers(), [127]);
});

Deno.test("reduction axes must be in range and distinct", () => {
  fails(Sum, [x, i32([3])], {}, /invalid reduction axis 3/);
  fails(Sum, [x, i32([1, -2])], {}, /dimension 1 twice/);
  fails(Sum, [tensor(5), i32(0)], {}, /invalid reduction axis 0/);
});

Deno.test("ArgMax and ArgMin take the first of ties", () => {
  const t = i32([[1, 3, 3], [2, 2, 1]]);
  const a = run(ArgMax, [t, i32(1)]);
  assert.deepEqual([a.dtype, a.toNumbers()], ["int64", [1, 0]]); // numpy
  const b = run(ArgMin, [t, i32(0)], { output_type: "int32" });
  assert.deepEqual([b.dtype, b.toNumbers()], ["int32", [0, 1, 1]]); // numpy
  assert.deepEqual(run(ArgMax, [tensor([false, true, true]), i32(0)]).toNumbers(), [1]);
  assert.deepEqual(
    run(ArgMax, [Tensor.fromNumbers("float32", [3], [1, NaN, 5]), i32(0)]).toNumbers(),
    [1],
  );
  fails(ArgMax, [t, i32(2)], {}, /out of range/);
  fails(ArgMax, [Tensor.zeros("float32", [2, 0]), i32(1)], {}, /axis 1 is empty/);
});

Deno.test("resolveReduction decomposes into outer/reduce/inner where it can", () => {
  const adjacent = resolveReduction([2, 3, 4, 5], [2, 1], false);
  assert.deepEqual(adjacent.contiguous, { outer: 2, reduce: 12, inner: 5 });
  assert.deepEqual([adjacent.outShape, adjacent.reduceSize], [[2, 5], 12]);
  const split = resolveReduction([2, 3, 4], [0, 2], true);
  assert.equal(split.contiguous, undefined);
  assert.deepEqual([split.perm, split.outShape], [[1, 0, 2], [1, 3, 1]]);
  // Size-1 dims do not break adjacency.
  assert.deepEqual(resolveReduction([2, 1, 4], [0, 2], false).contiguous, {
    outer: 1,
    reduce: 8,
    inner: 1,
  });
});

Deno.test("reduction inference with unknown axes or dims", () => {
  assert.deepEqual(reductionShape([-1, 3, 4, 5], undefined, 2, false), [-1, -1]);
  assert.deepEqual(reductionShape([-1, 3, 4, 5], undefined, undefined, true), [-1, -1, -1, -1]);
  assert.equal(reductionShape([-1, 3], undefined, undefined, false), null);
  assert.deepEqual(reductionShape([-1, 3], undefined, 0, false), [-1, 3]);
  assert.deepEqual(reductionShape([-1, 3, 4], [1], undefined, false), [-1, 4]);
  new Graph().asDefault(() => {
    const g = Graph.current()!;
    const p = placeholder(g, "float32", [null, 3, 4]);
    assert.deepEqual(sum(p).shape, []);
    assert.deepEqual(sum(p, []).shape, [-1, 3, 4]);
    assert.deepEqual(max(p, [1], { keep_dims: true }).shape, [-1, 1, 4]);
    assert.deepEqual(sum(p, placeholder(g, "int32", [2])).shape, [-1]);
    const am = argMax(p, 2);
    assert.deepEqual([am.dtype, am.shape], ["int64", [-1, 3]]);
  });
});
