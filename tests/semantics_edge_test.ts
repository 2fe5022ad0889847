// TensorFlow's meaning at the edges, on every device: the nine disagreements of issue 9 (Relu of
// NaN, softmax and cross entropies of huge and infinite logits, float FloorDiv rounded in the
// dtype, integer Pow refusing negative exponents, C's pow, exact int32/int64 arithmetic, wide
// integer Mean, Sign of NaN) and integer FloorDiv/FloorMod of negative operands (which WGSL
// leaves to the backend), and int64 past 2^53 through windows, casts, Range, comparisons and data
// movement. Each case runs through a session on REF, WASM, TPU and WEBGPU; a device without a
// kernel for a case runs it on REF, so the case still checks what that device gives. WebGPU keeps
// int64 in int32 storage, so there the int64 cases check that larger values are refused.
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
  Greater,
  GreaterEqual,
  Less,
  LessEqual,
  Maximum,
  Minimum,
  Mul,
  NotEqual,
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
import { ArgMax, Mean, Min, Sum } from "../core/ops/reduce.ts";
import { Cast } from "../core/ops/cast.ts";
import { Fill, Range } from "../core/ops/fill.ts";
import { GatherV2 } from "../core/ops/gather.ts";
import { ConcatV2, Pack } from "../core/ops/join.ts";
import { Pad, Tile } from "../core/ops/pad_tile.ts";
import { MaxPool } from "../core/ops/pool.ts";
import { OneHot, SelectV2 } from "../core/ops/select.ts";
import { Slice } from "../core/ops/slice.ts";
import { Transpose } from "../core/ops/transpose.ts";
import {
  Abs,
  Cos,
  Exp,
  Log,
  Log1p,
  Neg,
  Relu,
  Relu6,
  Rsqrt,
  Sign,
  Sin,
  Sqrt,
  Square,
} from "../core/ops/unary.ts";
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
  /**
   * Where a device departs by design: it must refuse the case with this message, or (`differs`)
   * its kernel declares the difference and the case is not run there, with the reason printed.
   */
  onDevice?: Partial<Record<DeviceType, { error: RegExp } | { differs: string }>>;
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
const P53 = 2n ** 53n, TOP64 = 2n ** 63n - 1n, BOTTOM64 = -(2n ** 63n);
/** WebGPU keeps int64 in int32 storage (devices/webgpu/storage.ts) and refuses larger values. */
const GPU_INT32_STORAGE = { WEBGPU: { error: /does not fit the WebGPU device's int32 storage/ } };
const bool = (shape: number[], v: boolean[]) => Tensor.fromNumbers("bool", shape, v.map(Number));
/** float32 values as the device sees them, and a float64 function of them rounded to float32. */
const F32 = (v: number[]) => v.map(Math.fround);
const at32 = (v: number[], f: (x: number) => number) => F32(v).map((x) => Math.fround(f(x)));
/** A float32 unary op over `xs` against the float64 `f` rounded once, within `rtol`. */
function againstMath(
  name: string,
  op: OpDef,
  xs: number[],
  f: (x: number) => number,
  rtol: number,
): EdgeCase {
  return { name, op, inputs: [f32([xs.length], xs)], expect: [at32(xs, f)], rtol };
}
/** TensorFlow's float FloorMod: fmod (exact), moved into the divisor's sign. */
function floorMod64(x: number, y: number): number {
  const r = x % y;
  return Math.fround(r !== 0 && (r < 0) !== (y < 0) ? r + y : r);
}
// Comparisons with a NaN operand: pairs (NaN, -1), (NaN, NaN), (1, NaN), (-1, -1).
const CMP_A = [NaN, NaN, 1, -1], CMP_B = [-1, NaN, NaN, -1];
const compareCase = (op: OpDef, want: boolean[]): EdgeCase => ({
  name: `${op.name} with NaN operands`,
  op,
  inputs: [f32([4], CMP_A), f32([4], CMP_B)],
  expect: [want.map(Number)],
});
// Sin and Cos far from 0, where WGSL's sin and cos are unbounded: the reference's float64
// sin/cos reduce exactly, as TensorFlow's float32 kernels do (Eigen's psin reduces by π/2 in
// float32 pieces, exact up to float32's maximum).
const TRIG_X = F32([
  1e38,
  -1e38,
  3.4028234663852886e38,
  1e17,
  1.2e4,
  3.1415927,
  -1.5707964,
  0.785398,
  0.5,
  -0,
  16367173 * 2 ** 72,
  6.2831855,
  100,
]);
// Exp near overflow, into subnormal results and at the specials.
const EXP_X = F32([
  88.72,
  88.5,
  -87.3,
  -80,
  50.5,
  -50.5,
  0.3,
  -0.3,
  1e-30,
  NaN,
  Infinity,
  -Infinity,
]);
// Log of subnormals (llvmpipe's log read 1e-40 as -88.02), zeros, negatives, specials and near 1
// (where WGSL bounds log only absolutely); Log1p below 2^-24 and at -1 and below.
const LOG_X = F32([1e-40, 1.4e-45, 5e-39, 0, -0, -1, Infinity, NaN, 1.0001, 0.75, 1.9, 3, 1e30]);
const LOG1P_X = F32([1.4e-45, 1e-40, -1e-30, -1, -2, Infinity, -0.75, 3, 0.25]);
const SQRT_X = F32([-1, -0, 0, 1e-40, -Infinity, Infinity, 2]);
// FloorMod: quotients past 2^24 (where a - b trunc(a / b) is wrong), signs, specials.
const MOD_X = F32([1e17, -1e17, 1e38, -3e38, 5.5, -5.5, 5.5, 7, -1, 1, Infinity, 3, 2.5e-44]);
const MOD_Y = F32([
  3.97,
  3.97,
  -0.3,
  7.1e-3,
  -2,
  2,
  Infinity,
  -Infinity,
  Infinity,
  0,
  2,
  NaN,
  2e-45,
]);

const CASES: EdgeCase[] = [
  // 1. TensorFlow's Relu is max(x, 0) propagating NaN.
  {
    name: "Relu(NaN) is NaN",
    op: Relu,
    inputs: [f32([4], [NaN, -1, 2, -0])],
    expect: [[NaN, 0, 2, 0]],
  },
  { name: "Relu6(NaN) is NaN", op: Relu6, inputs: [f32([3], [NaN, 7, -1])], expect: [[NaN, 6, 0]] },
  // Comparisons with NaN are false, except NotEqual; Maximum and Minimum propagate NaN.
  compareCase(Equal, [false, false, false, true]),
  compareCase(NotEqual, [true, true, true, false]),
  compareCase(Less, [false, false, false, false]),
  compareCase(LessEqual, [false, false, false, true]),
  compareCase(Greater, [false, false, false, false]),
  compareCase(GreaterEqual, [false, false, false, true]),
  {
    name: "Maximum propagates NaN",
    op: Maximum,
    inputs: [f32([4], [NaN, 1, NaN, 2]), f32([4], [1, NaN, NaN, -3])],
    expect: [[NaN, NaN, NaN, 2]],
  },
  {
    name: "Minimum propagates NaN",
    op: Minimum,
    inputs: [f32([4], [NaN, 1, NaN, 2]), f32([4], [1, NaN, NaN, -3])],
    expect: [[NaN, NaN, NaN, -3]],
  },
  // MaxPool propagates NaN (TensorFlow's and the reference's max): the row-cached program with
  // vec4 channels (unit stride, 4 channels) and the general one (stride 2, 1 channel).
  {
    name: "MaxPool propagates NaN (vec4 channels, unit stride)",
    op: MaxPool,
    inputs: [f32([1, 1, 3, 4], [NaN, 1, 2, -Infinity, 5, NaN, 0, -1, 3, 3, NaN, -2])],
    attrs: { ksize: [1, 1, 2, 1], strides: [1, 1, 1, 1], padding: "VALID" },
    expect: [[NaN, NaN, 2, -1, 5, NaN, NaN, -1]],
  },
  {
    name: "MaxPool propagates NaN (strided)",
    op: MaxPool,
    inputs: [f32([1, 1, 6, 1], [NaN, 1, 2, NaN, 4, 3])],
    attrs: { ksize: [1, 1, 2, 1], strides: [1, 1, 2, 1], padding: "VALID" },
    expect: [[NaN, NaN, 4]],
  },
  {
    name: "Cast of NaN, -0, Inf and a subnormal to bool",
    op: Cast,
    inputs: [f32([4], [NaN, -0, Infinity, 1e-40])],
    attrs: { DstT: "bool" },
    expect: [[1, 0, 1, 1]],
  },
  againstMath("Sin of large arguments", Sin, TRIG_X, Math.sin, 5e-7),
  againstMath("Cos of large arguments", Cos, TRIG_X, Math.cos, 5e-7),
  againstMath("Exp near overflow and underflow", Exp, EXP_X, Math.exp, 3e-7),
  againstMath("Log of subnormals, zeros, negatives and specials", Log, LOG_X, Math.log, 1e-6),
  againstMath("Log1p of tiny values, -1 and below", Log1p, LOG1P_X, Math.log1p, 1e-6),
  againstMath("Sqrt of negatives, zeros, subnormals and Inf", Sqrt, SQRT_X, Math.sqrt, 5e-7),
  againstMath(
    "Rsqrt of negatives, zeros, subnormals and Inf",
    Rsqrt,
    SQRT_X,
    (x) => 1 / Math.sqrt(x),
    5e-7,
  ),
  {
    name: "float32 FloorMod is exact for large quotients",
    op: FloorMod,
    inputs: [f32([MOD_X.length], MOD_X), f32([MOD_Y.length], MOD_Y)],
    expect: [MOD_X.map((x, i) => floorMod64(x, MOD_Y[i]))],
  },
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
  // A -Inf logit: TensorFlow's sparse loss is log(sum) - d[label] alone, Inf when the label's
  // logit is -Inf and finite when another's is (no 0 · Inf term).
  {
    name: "SparseSoftmaxCrossEntropyWithLogits with a -Inf logit",
    op: SparseSoftmaxCrossEntropyWithLogits,
    inputs: [f32([2, 3], [0, -Infinity, 1, 0, -Infinity, 1]), i32([2], [1, 0])],
    expect: [
      [Infinity, Math.log(1 + Math.E)],
      [1 / (1 + Math.E), -1, Math.E / (1 + Math.E), 1 / (1 + Math.E) - 1, 0, Math.E / (1 + Math.E)],
    ],
    rtol: 1e-5,
  },
  // The dense loss sums labels · (log(sum) - d) over every class (TensorFlow's xent kernel), so
  // a zero label meeting a -Inf logit is 0 · Inf = NaN; the backprop stays finite. (The TPU once
  // skipped zero labels as the sparse loss does and gave 0: fuzzer seed 355306663.)
  {
    name: "SoftmaxCrossEntropyWithLogits with a -Inf logit under a zero label",
    op: SoftmaxCrossEntropyWithLogits,
    inputs: [f32([2, 2], [0, -Infinity, 0, 0]), f32([2, 2], [0, 0, 1, 0])],
    expect: [[NaN, LN2], [1, 0, -0.5, 0.5]],
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
  // A subnormal base: (1e-40)^-1.0067 is 1.8e40, past float32's range (WebGPU's log2 of the
  // subnormal gave 3e38 on lavapipe: fuzzer seed 1631150288); its square root is 1e-20.
  {
    name: "float32 Pow of a subnormal base",
    op: Pow,
    inputs: [f32([3], [1e-40, 1e-40, 1e-40]), f32([3], [-1.0067, 0.5, 2])],
    expect: [[Infinity, Math.sqrt(Math.fround(1e-40)), 0]],
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
  {
    name: "int32 Pow of 0",
    op: Pow,
    inputs: [i32([6], [0, 0, 0, 0, 2, -3]), i32([6], [0, 1, 5, 2, 0, 3])],
    expect: [[1, 0, 0, 0, 1, -27]],
  },
  // 6. float Pow is C's pow.
  {
    name: "float32 Pow of ±0 and ±Inf bases, ±Inf exponents",
    op: Pow,
    inputs: [
      f32([12], [-0, -0, -0, 0, 0, -Infinity, -Infinity, Infinity, 0.5, 2, -2, -8]),
      f32([12], [-1, 3, 2, -2, 5, 3, -3, -1, -Infinity, -Infinity, 3, 1 / 3]),
    ],
    expect: [[-Infinity, -0, 0, Infinity, 0, -Infinity, -0, 0, Infinity, 0, -8, NaN]],
  },
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
  // int64 past the doubles: windows, casts, Range, comparisons and data movement keep every bit.
  {
    // An empty input width with explicit padding: every window holds only padding, and the max
    // starts from the dtype's lowest value, as TensorFlow's max pooling does (found by the fuzzer:
    // REF gave 0 from -Inf cast to int, WASM 0 from its first-element start).
    name: "int32 MaxPool of windows with no element gives INT32_MIN",
    op: MaxPool,
    inputs: [i32([1, 1, 0, 1], [])],
    attrs: {
      ksize: [1, 1, 3, 1],
      strides: [1, 1, 3, 1],
      padding: "EXPLICIT",
      explicit_paddings: [0, 0, 0, 0, 2, 2, 0, 0],
    },
    expect: [[-2147483648]],
  },
  {
    name: "int64 MaxPool past 2^53",
    op: MaxPool,
    inputs: [i64([1, 1, 4, 1], [P53, P53 + 1n, BOTTOM64, TOP64])],
    attrs: { ksize: [1, 1, 2, 1], strides: [1, 1, 1, 1], padding: "VALID" },
    expect: [[P53 + 1n, P53 + 1n, TOP64]],
  },
  {
    // C's int64 → float rounds once: 2^60 + 2^36 + 1 is past the tie, so it rounds up; rounded
    // to a double first it would become the tie 2^60 + 2^36 and then the even 2^60.
    name: "int64 Cast to float32 rounds once",
    op: Cast,
    inputs: [
      i64([6], [
        2n ** 60n + 2n ** 36n + 1n,
        -(2n ** 60n + 2n ** 36n + 1n),
        TOP64,
        BOTTOM64,
        P53 + 1n,
        2n ** 24n + 1n,
      ]),
    ],
    attrs: { DstT: "float32" },
    expect: [[2 ** 60 + 2 ** 37, -(2 ** 60 + 2 ** 37), 2 ** 63, -(2 ** 63), 2 ** 53, 2 ** 24]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    // TensorFlow's bfloat16(int64) is Eigen's bfloat16(static_cast<float>(v)): the float32
    // rounding first, then to nearest even. 2^60 + 2^52 + 2^36 + 1 → float32 2^60 + 2^52 + 2^37 →
    // 2^60 + 2^53 (through a double it would tie at 2^60 + 2^52 and go to 2^60); 2^32 + 2^24 + 1
    // → float32 2^32 + 2^24, a tie → 2^32 (rounding the integer directly would give 2^32 + 2^25).
    name: "int64 Cast to bfloat16 rounds through float32 as TensorFlow",
    op: Cast,
    inputs: [i64([2], [2n ** 60n + 2n ** 52n + 2n ** 36n + 1n, 2n ** 32n + 2n ** 24n + 1n])],
    attrs: { DstT: "bfloat16" },
    expect: [[2 ** 60 + 2 ** 53, 2 ** 32]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Cast to float16 overflows to Inf",
    op: Cast,
    inputs: [i64([4], [65519n, 65520n, -65520n, 2049n])],
    attrs: { DstT: "float16" },
    expect: [[65504, Infinity, -Infinity, 2048]],
  },
  {
    name: "int64 Cast to int32 keeps the low 32 bits",
    op: Cast,
    inputs: [i64([4], [P53 + 1n, TOP64, BOTTOM64, 2n ** 32n + 5n])],
    attrs: { DstT: "int32" },
    expect: [[1, -1, 0, 5]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Cast to int8 keeps the low 8 bits",
    op: Cast,
    inputs: [i64([4], [P53 + 1n, TOP64, BOTTOM64, 2n ** 40n + 130n])],
    attrs: { DstT: "int8" },
    expect: [[1, -1, 0, -126]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Cast to uint8 keeps the low 8 bits",
    op: Cast,
    inputs: [i64([4], [P53 + 1n, TOP64, BOTTOM64, -(2n ** 40n) - 1n])],
    attrs: { DstT: "uint8" },
    expect: [[1, 255, 0, 255]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    // Truncation toward zero, exact for every float32 in int64's range. NaN is undefined in
    // TensorFlow (its x86 CPU kernel gives INT64_MIN, its GPU kernel and XLA give 0); Edgeflow
    // gives 0 on every device (core/ops/cast.ts).
    name: "float32 Cast to int64 truncates exactly",
    op: Cast,
    inputs: [f32([5], [2 ** 62 + 2 ** 39, -(2 ** 63), -2.75, 1.5e10, NaN])],
    attrs: { DstT: "int64" },
    expect: [[2n ** 62n + 2n ** 39n, BOTTOM64, -2n, BigInt(Math.fround(1.5e10)), 0n]],
    // WebGPU checks the values first and refuses: its int32 storage cannot hold the answer.
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "bfloat16 Cast to int64 beyond int32 is right or refused",
    op: Cast,
    inputs: [t("bfloat16", [2], [-3.5, 2 ** 40])],
    attrs: { DstT: "int64" },
    expect: [[-3n, 2n ** 40n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    // Within int32 every device, WebGPU included, gives the truncated values.
    name: "float32 Cast to int64 within int32 truncates on every device",
    op: Cast,
    inputs: [f32([6], [-2.75, 2147483520, MIN32, NaN, -Infinity, 0.5])],
    attrs: { DstT: "int64" },
    expect: [[-2n, 2147483520n, BigInt(MIN32), 0n, 0n, 0n]],
  },
  {
    name: "int64 Range past 2^53",
    op: Range,
    inputs: [i64([], [P53]), i64([], [P53 + 3n]), i64([], [1n])],
    expect: [[P53, P53 + 1n, P53 + 2n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    // The length is ceil((limit - start) / delta) computed exactly; TensorFlow's int64
    // subtraction would overflow here (undefined in C++).
    name: "int64 Range over the whole int64 line",
    op: Range,
    inputs: [i64([], [BOTTOM64]), i64([], [TOP64]), i64([], [2n ** 62n])],
    expect: [[BOTTOM64, -(2n ** 62n), 0n, 2n ** 62n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Fill with 2^63 - 1",
    op: Fill,
    inputs: [i32([1], [2]), i64([], [TOP64])],
    expect: [[TOP64, TOP64]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Less past 2^53",
    op: Less,
    inputs: [i64([2], [P53, TOP64 - 1n]), i64([2], [P53 + 1n, TOP64])],
    expect: [[1, 1]],
  },
  {
    name: "int64 Greater past 2^53",
    op: Greater,
    inputs: [i64([2], [P53 + 1n, BOTTOM64 + 1n]), i64([2], [P53, BOTTOM64])],
    expect: [[1, 1]],
  },
  {
    name: "int64 Min past 2^53",
    op: Min,
    inputs: [i64([3], [P53 + 2n, P53 + 1n, TOP64]), i32([1], [0])],
    expect: [[P53 + 1n]],
  },
  {
    name: "int64 ArgMax past 2^53",
    op: ArgMax,
    inputs: [i64([3], [P53, P53 + 1n, P53]), i32([], [0])],
    expect: [[1]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 SelectV2 moves every bit",
    op: SelectV2,
    inputs: [bool([2], [true, false]), i64([2], [P53 + 1n, 1n]), i64([2], [2n, TOP64])],
    expect: [[P53 + 1n, TOP64]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 OneHot on and off values",
    op: OneHot,
    inputs: [i32([2], [0, 2]), i32([], [3]), i64([], [P53 + 1n]), i64([], [BOTTOM64])],
    expect: [[P53 + 1n, BOTTOM64, BOTTOM64, BOTTOM64, BOTTOM64, P53 + 1n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 GatherV2 moves every bit",
    op: GatherV2,
    inputs: [i64([3], [P53 + 1n, TOP64, BOTTOM64]), i32([3], [2, 0, 1]), i32([], [0])],
    expect: [[BOTTOM64, P53 + 1n, TOP64]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 ConcatV2 moves every bit",
    op: ConcatV2,
    inputs: [i64([1], [P53 + 1n]), i64([2], [TOP64, BOTTOM64]), i32([], [0])],
    expect: [[P53 + 1n, TOP64, BOTTOM64]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Pack moves every bit",
    op: Pack,
    inputs: [i64([1], [P53 + 1n]), i64([1], [TOP64])],
    attrs: { axis: 1 },
    expect: [[P53 + 1n, TOP64]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Transpose moves every bit",
    op: Transpose,
    inputs: [i64([2, 2], [P53 + 1n, TOP64, BOTTOM64, -P53 - 1n]), i32([2], [1, 0])],
    expect: [[P53 + 1n, BOTTOM64, TOP64, -P53 - 1n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Tile moves every bit",
    op: Tile,
    inputs: [i64([1], [P53 + 1n]), i32([1], [2])],
    expect: [[P53 + 1n, P53 + 1n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Pad moves every bit",
    op: Pad,
    inputs: [i64([1], [TOP64]), i32([1, 2], [1, 1])],
    expect: [[0n, TOP64, 0n]],
    onDevice: GPU_INT32_STORAGE,
  },
  {
    name: "int64 Slice moves every bit",
    op: Slice,
    inputs: [i64([3], [1n, P53 + 1n, BOTTOM64]), i32([1], [1]), i32([1], [2])],
    expect: [[P53 + 1n, BOTTOM64]],
    onDevice: GPU_INT32_STORAGE,
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
      const expect = c.onDevice?.[type] ?? c.expect;
      if ("differs" in expect) {
        console.log(`not run on ${type}: ${expect.differs}`);
        return;
      }
      if ("error" in expect) {
        const err = await run().then(() => undefined, (e) => e);
        assert.ok(err instanceof EdgeflowError, `expected an EdgeflowError, got ${err}`);
        assert.match(err.message, expect.error);
        return;
      }
      check(c, (await run()).outputs);
    });
  }
}
