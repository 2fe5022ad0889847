// TensorFlow's meaning at the edges, on every device: the nine disagreements of issue 9 (Relu of
// NaN, softmax and cross entropies of huge and infinite logits, float FloorDiv rounded in the
// dtype, integer Pow refusing negative exponents, C's pow, exact int32/int64 arithmetic, wide
// integer Mean, Sign of NaN) and integer FloorDiv/FloorMod of negative operands (which WGSL
// leaves to the backend). Each case runs through a session on REF, WASM, TPU and WEBGPU; a device
// without a kernel for a case runs it on REF, so the case still checks what that device gives.
// Expected values are TensorFlow's (its CPU kernels' formulas, noted per case).
import assert from "node:assert/strict";
import type { DeviceType } from "../core/device_spec.ts";
import { EdgeflowError } from "../core/errors.ts";
import { defaultRegistry } from "../core/kernel.ts";
import type { Attrs, OpDef } from "../core/op.ts";
import {
  AddV2,
  Equal,
  FloorDiv,
  FloorMod,
  Maximum,
  Mul,
  Pow,
  SquaredDifference,
  Sub,
} from "../core/ops/binary.ts";
import {
  SoftmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
} from "../core/ops/loss.ts";
import { BatchMatMulV2, MatMul } from "../core/ops/matmul.ts";
import { LogSoftmax, Softmax } from "../core/ops/nn.ts";
import { Mean, Sum } from "../core/ops/reduce.ts";
import { Abs, Neg, Relu, Relu6, Sign, Square } from "../core/ops/unary.ts";
import type { NumericDType } from "../core/dtype.ts";
import { numbers, Tensor } from "../core/tensor.ts";
import "../mod.ts";
import { deviceFor } from "./kernels/devices.ts";
import { runOnDevice } from "./kernels/run_case.ts";

const DEVICES: DeviceType[] = ["REF", "WASM", "TPU", "WEBGPU"];
const MAX32 = 2 ** 31 - 1, MIN32 = -(2 ** 31);
const LN2 = Math.log(2);

type Values = readonly (number | bigint)[];
interface EdgeCase {
  name: string;
  op: OpDef;
  inputs: Tensor[];
  attrs?: Attrs;
  /** Each output's values, or the message the run must fail with. */
  expect: Values[] | { error: RegExp };
  /** Relative tolerance for float outputs (transcendentals on devices); 0 means exact. */
  rtol?: number;
}

function t(dtype: NumericDType, shape: number[], values: Values): Tensor {
  if (dtype === "int64") {
    return new Tensor("int64", shape, BigInt64Array.from(values, (v) => BigInt(v)));
  }
  return Tensor.fromNumbers(dtype, shape, values.map(Number));
}
const f32 = (shape: number[], v: Values) => t("float32", shape, v);
const i32 = (shape: number[], v: Values) => t("int32", shape, v);
const i64 = (shape: number[], v: Values) => t("int64", shape, v);
const wrap32 = (x: bigint) => Number(BigInt.asIntN(32, x));
const wrap64 = (x: bigint) => BigInt.asIntN(64, x);

const CASES: EdgeCase[] = [
  // 1. TensorFlow's Relu is max(x, 0) propagating NaN.
  {
    name: "Relu(NaN) is NaN",
    op: Relu,
    inputs: [f32([4], [NaN, -1, 2, -0])],
    expect: [[NaN, 0, 2, 0]],
  },
  { name: "Relu6(NaN) is NaN", op: Relu6, inputs: [f32([3], [NaN, 7, -1])], expect: [[NaN, 6, 0]] },
  // 2. Huge logits: (x - max) - log(sum), so 1e17 + log 2 never swallows the log.
  {
    name: "Softmax of huge logits",
    op: Softmax,
    inputs: [f32([1, 2], [1e17, 1e17])],
    expect: [[0.5, 0.5]],
    rtol: 1e-6,
  },
  {
    name: "LogSoftmax of huge logits",
    op: LogSoftmax,
    inputs: [f32([1, 2], [1e17, 1e17])],
    expect: [[-LN2, -LN2]],
    rtol: 1e-5,
  },
  {
    name: "SoftmaxCrossEntropyWithLogits of huge logits",
    op: SoftmaxCrossEntropyWithLogits,
    inputs: [f32([1, 2], [1e17, 1e17]), f32([1, 2], [1, 0])],
    expect: [[LN2], [-0.5, 0.5]],
    rtol: 1e-5,
  },
  {
    name: "SparseSoftmaxCrossEntropyWithLogits of huge logits",
    op: SparseSoftmaxCrossEntropyWithLogits,
    inputs: [f32([1, 2], [1e17, 1e17]), i32([1], [0])],
    expect: [[LN2], [-0.5, 0.5]],
    rtol: 1e-5,
  },
  // 3. A row holding +Inf: Inf - Inf is NaN, the row's sum is NaN, so the whole row is NaN.
  {
    name: "Softmax of a row with +Inf",
    op: Softmax,
    inputs: [f32([2, 2], [Infinity, 1, 0, 0])],
    expect: [[NaN, NaN, 0.5, 0.5]],
    rtol: 1e-6,
  },
  {
    name: "LogSoftmax of a row with +Inf",
    op: LogSoftmax,
    inputs: [f32([2, 2], [Infinity, 1, 0, 0])],
    expect: [[NaN, NaN, -LN2, -LN2]],
    rtol: 1e-5,
  },
  {
    name: "SoftmaxCrossEntropyWithLogits of a row with +Inf",
    op: SoftmaxCrossEntropyWithLogits,
    inputs: [f32([2, 2], [Infinity, 1, 0, 0]), f32([2, 2], [1, 0, 0, 1])],
    expect: [[NaN, LN2], [NaN, NaN, 0.5, -0.5]],
    rtol: 1e-5,
  },
  {
    name: "SparseSoftmaxCrossEntropyWithLogits of a row with +Inf",
    op: SparseSoftmaxCrossEntropyWithLogits,
    inputs: [f32([2, 2], [1, Infinity, 0, 0]), i32([2], [0, 1])],
    expect: [[NaN, LN2], [NaN, NaN, 0.5, -0.5]],
    rtol: 1e-5,
  },
  // 4. float FloorDiv is floor(x / y) with the quotient rounded to float32 first.
  {
    name: "float32 FloorDiv rounds the quotient first",
    op: FloorDiv,
    inputs: [f32([5], [1, 3, 100, -1, 7]), f32([5], [0.33333334, 0.1, 0.1, 3, -2])],
    expect: [[3, 30, 1000, -1, -4]],
  },
  // Integer FloorDiv/FloorMod of negative operands; MIN / -1 wraps (TensorFlow's CPU traps).
  {
    name: "int32 FloorDiv of negative operands",
    op: FloorDiv,
    inputs: [
      i32([9], [-7, -1, 7, 7, -7, MIN32, MIN32, MIN32, MAX32]),
      i32([9], [3, 5, -3, 3, -3, -1, 2, 3, -2]),
    ],
    expect: [[-3, -1, -3, 2, 2, MIN32, -(2 ** 30), -715827883, -(2 ** 30)]],
  },
  {
    name: "int32 FloorMod of negative operands",
    op: FloorMod,
    inputs: [
      i32([9], [-5, -7, 7, 5, -1, MIN32, MIN32, MAX32, 0]),
      i32([9], [-2, 3, -3, 3, 5, -1, 3, -2, -4]),
    ],
    expect: [[-1, 2, -2, 2, 4, 0, 1, -1, 0]],
  },
  {
    name: "int64 FloorDiv past 2^53",
    op: FloorDiv,
    inputs: [i64([2], [-(2n ** 60n) - 1n, 2n ** 62n + 4n]), i64([2], [2n ** 33n, -7n])],
    expect: [[-(2n ** 27n) - 1n, -((2n ** 62n + 4n + 6n) / 7n)]],
  },
  {
    name: "int64 FloorMod past 2^53",
    op: FloorMod,
    // 2^62 + 4 = 1 (mod 7).
    inputs: [i64([2], [-(2n ** 60n) - 1n, 2n ** 62n + 4n]), i64([2], [2n ** 33n, -7n])],
    expect: [[2n ** 33n - 1n, -6n]],
  },
  // 5. Integer Pow with a negative exponent is refused, as TensorFlow's CPU kernel does.
  {
    name: "int32 Pow with a negative exponent",
    op: Pow,
    inputs: [i32([2], [2, 1]), i32([2], [3, -1])],
    expect: { error: /Integers to negative integer powers are not allowed/ },
  },
  {
    name: "int64 Pow with a negative exponent",
    op: Pow,
    inputs: [i64([1], [1]), i64([1], [-2])],
    expect: { error: /Integers to negative integer powers are not allowed/ },
  },
  // 6. float Pow is C's pow.
  {
    name: "float32 Pow follows C's pow",
    op: Pow,
    inputs: [
      f32([6], [1, -1, -1, NaN, 2, 1]),
      f32([6], [NaN, Infinity, -Infinity, 0, 3, Infinity]),
    ],
    expect: [[1, 1, 1, 1, 8, 1]],
  },
  // 7. Integer arithmetic is exact and wraps in its width.
  {
    name: "int32 Pow wraps",
    op: Pow,
    inputs: [i32([3], [3, -3, 7]), i32([3], [40, 21, 0])],
    expect: [[wrap32(3n ** 40n), wrap32((-3n) ** 21n), 1]],
  },
  {
    name: "int32 Square wraps",
    op: Square,
    inputs: [i32([3], [MAX32, MIN32, 46341])],
    expect: [[1, 0, wrap32(46341n * 46341n)]],
  },
  {
    name: "int32 Mul and SquaredDifference wrap",
    op: SquaredDifference,
    inputs: [i32([2], [MAX32, MIN32]), i32([2], [MIN32, MAX32])],
    expect: [[wrap32((2n ** 32n - 1n) ** 2n), wrap32((2n ** 32n - 1n) ** 2n)]],
  },
  {
    name: "int32 MatMul with a large dot product",
    op: MatMul,
    inputs: [i32([1, 3], [MAX32, MAX32, 5]), i32([3, 1], [MAX32, MAX32, 7])],
    expect: [[wrap32(2n * BigInt(MAX32) ** 2n + 35n)]],
  },
  {
    name: "int64 AddV2 wraps in 64 bits",
    op: AddV2,
    inputs: [i64([2], [2n ** 62n, 2n ** 53n]), i64([2], [2n ** 62n, 1n])],
    expect: [[-(2n ** 63n), 2n ** 53n + 1n]],
  },
  {
    name: "int64 Sub keeps the low bits",
    op: Sub,
    inputs: [i64([1], [2n ** 60n + 1n]), i64([1], [2n ** 60n])],
    expect: [[1n]],
  },
  {
    name: "int64 Mul wraps in 64 bits",
    op: Mul,
    inputs: [i64([2], [2n ** 32n + 1n, 3n]), i64([2], [2n ** 32n + 1n, 2n ** 62n])],
    expect: [[2n ** 33n + 1n, wrap64(3n * 2n ** 62n)]],
  },
  {
    name: "int64 Equal tells 2^53 + 1 from 2^53",
    op: Equal,
    inputs: [i64([2], [2n ** 53n + 1n, 2n ** 53n]), i64([2], [2n ** 53n, 2n ** 53n])],
    expect: [[0, 1]],
  },
  {
    name: "int64 Maximum past 2^53",
    op: Maximum,
    inputs: [i64([1], [2n ** 53n + 1n]), i64([1], [2n ** 53n])],
    expect: [[2n ** 53n + 1n]],
  },
  {
    name: "int64 Pow wraps in 64 bits",
    op: Pow,
    inputs: [i64([2], [3n, 2n]), i64([2], [41n, 63n])],
    expect: [[wrap64(3n ** 41n), -(2n ** 63n)]],
  },
  {
    name: "int64 Square past 2^53",
    op: Square,
    inputs: [i64([2], [2n ** 31n + 1n, -(2n ** 40n) - 3n])],
    expect: [[(2n ** 31n + 1n) ** 2n, wrap64((2n ** 40n + 3n) ** 2n)]],
  },
  {
    name: "int64 Neg",
    op: Neg,
    inputs: [i64([1], [2n ** 53n + 1n])],
    expect: [[-(2n ** 53n) - 1n]],
  },
  {
    name: "int64 Abs",
    op: Abs,
    inputs: [i64([2], [-(2n ** 53n) - 1n, -(2n ** 63n)])],
    expect: [[2n ** 53n + 1n, -(2n ** 63n)]],
  },
  {
    name: "int64 MatMul past 2^53",
    op: BatchMatMulV2,
    inputs: [i64([1, 1, 2], [2n ** 53n + 1n, 2n ** 40n]), i64([1, 2, 1], [3n, 2n ** 30n])],
    expect: [[wrap64((2n ** 53n + 1n) * 3n + 2n ** 70n)]],
  },
  {
    name: "int64 Sum past 2^53",
    op: Sum,
    inputs: [i64([3], [2n ** 53n, 1n, 2n ** 63n - 1n]), i32([1], [0])],
    expect: [[wrap64(2n ** 53n + 1n + 2n ** 63n - 1n)]],
  },
  // 8. Integer Mean sums wide (TensorFlow casts int8/int32 to int64) and truncates.
  {
    name: "int32 Mean accumulates wide",
    op: Mean,
    inputs: [i32([4], [MAX32, MAX32, MAX32, 1]), i32([1], [0])],
    expect: [[Number((3n * BigInt(MAX32) + 1n) / 4n)]],
  },
  {
    name: "int32 Mean truncates toward zero",
    op: Mean,
    inputs: [i32([2, 2], [-7, 0, MIN32, MIN32]), i32([1], [1])],
    expect: [[-3, MIN32]],
  },
  {
    name: "int8 Mean accumulates wide",
    op: Mean,
    inputs: [t("int8", [2], [100, 100]), i32([1], [0])],
    expect: [[100]],
  },
  {
    name: "uint8 Mean accumulates wide",
    op: Mean,
    inputs: [t("uint8", [2], [200, 250]), i32([1], [0])],
    expect: [[225]],
  },
  // 9. Sign(NaN) is 0, as TensorFlow documents.
  {
    name: "Sign(NaN) is 0",
    op: Sign,
    inputs: [f32([5], [NaN, -0, -2, 3, -Infinity])],
    expect: [[0, 0, -1, 1, -1]],
  },
];

function close(actual: number, expected: number, rtol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (actual === expected) return true;
  return Math.abs(actual - expected) <= rtol * Math.abs(expected);
}

function check(c: EdgeCase, outputs: Tensor[]): void {
  const expect = c.expect as Values[];
  assert.equal(outputs.length, expect.length, "number of outputs");
  expect.forEach((want, k) => {
    const got = outputs[k];
    assert.equal(got.size, want.length, `output ${k} size`);
    for (let i = 0; i < want.length; i++) {
      const g = got.data[i], w = want[i];
      if (typeof g === "bigint") {
        assert.equal(g, BigInt(w), `output ${k} element ${i}: ${g}, expected ${w}`);
        continue;
      }
      const gn = numbers(got)[i];
      assert.ok(
        close(gn, Number(w), c.rtol ?? 0),
        `output ${k} element ${i}: ${gn}, expected ${w}`,
      );
    }
  });
}

for (const type of DEVICES) {
  for (const c of CASES) {
    Deno.test(`${type}: ${c.name}`, async (t) => {
      const device = await deviceFor(type, t);
      if (!device) return;
      const run = () =>
        runOnDevice(device, defaultRegistry, c.op, { inputs: c.inputs, attrs: c.attrs ?? {} });
      if ("error" in c.expect) {
        const err = await run().then(() => undefined, (e) => e);
        assert.ok(err instanceof EdgeflowError, `expected an EdgeflowError, got ${err}`);
        assert.match(err.message, c.expect.error);
        return;
      }
      check(c, (await run()).outputs);
    });
  }
}
