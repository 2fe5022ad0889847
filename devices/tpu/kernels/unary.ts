/**
 * Unary elementwise ops on the vector unit. Each op is a small float32 program: every
 * intermediate is rounded to float32 (`f`), transcendental steps (exp, log, rsqrt, ...) run on
 * the extended unary unit as single correctly rounded float32 operations, and `ulps` bounds the
 * distance from the float64 reference rounded once, derived from the program's roundings.
 * (The hardware's transcendentals are a few ULPs looser; the emulator rounds them exactly.)
 * Integer dtypes follow the reference's integer rules.
 */
import type { DType } from "../../../core/dtype.ts";
import type { OpDef } from "../../../core/op.ts";
import * as U from "../../../core/ops/unary.ts";
import { mapUnary } from "./engine.ts";
import {
  input,
  output,
  TPU_FLOATS,
  TPU_REALS,
  type TpuContext,
  type TpuKernel,
  tpuKernel,
  vpuTolerance,
} from "./util.ts";

const f = Math.fround;

interface UnaryProgram {
  op: OpDef<{ T: DType }>;
  /** The float32 program. */
  f32: (x: number) => number;
  /** Integer (and bool) semantics, where the op takes them. */
  int?: (x: number) => number;
  /** Vector ALU and transcendental operations per element, for timing. */
  alu: number;
  eup?: number;
  /** Worst float32 ULPs from the reference, and how the program earns them. */
  ulps?: number;
  why?: string;
}

// SELU's constants as float32 registers hold them.
const SELU_SCALE = f(1.0507009873554804934193349852946);
const SELU_SCALE_ALPHA = f(1.0507009873554804934193349852946 * 1.6732632423543772848170429916717);

// Relu(NaN) is NaN (TensorFlow's max propagates it); Sign(NaN) is 0, as TensorFlow documents.
const relu = (x: number) => (x <= 0 ? 0 : x);
const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

const PROGRAMS: UnaryProgram[] = [
  { op: U.Neg, f32: (x) => -x, int: (x) => -x, alu: 1 },
  { op: U.Abs, f32: Math.abs, int: Math.abs, alu: 1 },
  { op: U.Sign, f32: sign, int: sign, alu: 2 },
  { op: U.Exp, f32: (x) => f(Math.exp(x)), alu: 0, eup: 1 },
  { op: U.Log, f32: (x) => f(Math.log(x)), alu: 0, eup: 1 },
  { op: U.Log1p, f32: (x) => f(Math.log1p(x)), alu: 0, eup: 1 },
  { op: U.Sqrt, f32: (x) => f(Math.sqrt(x)), alu: 0, eup: 1 },
  { op: U.Rsqrt, f32: (x) => f(1 / Math.sqrt(x)), alu: 0, eup: 1 },
  { op: U.Square, f32: (x) => f(x * x), int: (x) => Math.imul(x, x), alu: 1 },
  { op: U.Reciprocal, f32: (x) => f(1 / x), alu: 0, eup: 1 },
  { op: U.Tanh, f32: (x) => f(Math.tanh(x)), alu: 0, eup: 1 },
  {
    op: U.Sigmoid,
    // exp of a negative argument only: exp(-x) for x below -88 overflows float32, and 1/Inf
    // would lose results that are still representable (subnormal).
    f32: (x) => {
      const e = f(Math.exp(-Math.abs(x)));
      return x >= 0 ? f(1 / f(1 + e)) : f(e / f(1 + e));
    },
    alu: 3,
    eup: 2,
    ulps: 4,
    why: "1 / (1 + e) or e / (1 + e), e = exp(-|x|), in float32: three roundings, each ≤ 1/2 " +
      "ULP relative, + the reference's",
  },
  { op: U.Relu, f32: relu, int: relu, alu: 1 },
  {
    op: U.Relu6,
    f32: (x) => Math.min(Math.max(x, 0), 6),
    int: (x) => Math.min(Math.max(x, 0), 6),
    alu: 2,
  },
  { op: U.Elu, f32: (x) => (x > 0 ? x : f(Math.expm1(x))), alu: 1, eup: 1 },
  {
    op: U.Selu,
    f32: (x) => (x > 0 ? f(SELU_SCALE * x) : f(SELU_SCALE_ALPHA * f(Math.expm1(x)))),
    alu: 2,
    eup: 1,
    ulps: 4,
    why: "float32 constants and up to two roundings (scale·alpha·expm1(x))",
  },
  {
    op: U.Softplus,
    f32: (x) => x > 0 ? f(x + f(Math.log1p(f(Math.exp(-x))))) : f(Math.log1p(f(Math.exp(x)))),
    alu: 2,
    eup: 2,
    ulps: 4,
    why: "exp then log1p (log1p damps exp's error), then one addition: ≤ 3 roundings",
  },
  { op: U.Erf, f32: (x) => f(U.erfScalar(x)), alu: 0, eup: 1 },
  { op: U.Floor, f32: Math.floor, alu: 1 },
  { op: U.Ceil, f32: Math.ceil, alu: 1 },
  { op: U.Round, f32: U.roundHalfEven, int: (x) => x, alu: 2 },
  { op: U.Sin, f32: (x) => f(Math.sin(x)), alu: 0, eup: 1 },
  { op: U.Cos, f32: (x) => f(Math.cos(x)), alu: 0, eup: 1 },
  { op: U.LogicalNot, f32: (x) => 1 - x, int: (x) => 1 - x, alu: 1 },
];

function unaryKernel(p: UnaryProgram): TpuKernel<{ T: DType }> {
  const dtypes = p.op === U.LogicalNot
    ? ["bool" as const]
    : p.int
    ? TPU_REALS.filter((d) => p.op.testDTypes.includes(d))
    : TPU_FLOATS;
  return tpuKernel(p.op, {
    dtypes,
    create({ attrs: { T } }) {
      // The node's dtype picks its scalar program once.
      const program = T === "float32" || T === "bfloat16" ? p.f32 : p.int!;
      return { run: (ctx) => unaryRun(ctx, p, program) };
    },
    tolerance: (c) => vpuTolerance(c.attrs.T, p.ulps ?? 0, p.why ?? ""),
  });
}

/** One run of a unary program chosen for the node's dtype. */
function unaryRun(
  ctx: TpuContext<{ T: DType }>,
  p: UnaryProgram,
  program: (x: number) => number,
): void {
  const x = input(ctx, 0), out = output(ctx, 0);
  mapUnary(x, out, program);
  const n = out.data.length;
  const widen = ctx.attrs.T === "bfloat16" ? 2 * n : 0; // unpack and repack bfloat16
  ctx.device.charge(ctx, {
    vpuOps: n * p.alu + widen,
    eupOps: n * (p.eup ?? 0),
    hbmBytes: x.bytes + out.bytes,
    flops: n * (p.alu + (p.eup ?? 0)),
  });
}

/** LeakyRelu: alpha is a float attr, held as a float32 scalar register. */
const leakyRelu = tpuKernel(U.LeakyRelu, {
  dtypes: TPU_FLOATS,
  create({ attrs }) {
    const alpha = f(attrs.alpha);
    const program = (v: number) => (v < 0 ? f(alpha * v) : v);
    return {
      run(ctx) {
        const x = input(ctx, 0), out = output(ctx, 0);
        mapUnary(x, out, program);
        const n = out.data.length;
        ctx.device.charge(ctx, { vpuOps: 2 * n, hbmBytes: x.bytes + out.bytes, flops: 2 * n });
      },
    };
  },
  tolerance: (c) =>
    vpuTolerance(c.attrs.T, 2, "alpha rounded to float32, then one rounded product"),
});

export const UNARY_KERNELS: readonly TpuKernel[] = [
  ...PROGRAMS.map(unaryKernel),
  leakyRelu,
];
