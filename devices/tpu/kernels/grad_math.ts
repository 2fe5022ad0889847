/**
 * The elementwise gradient ops (core/ops/grad_math.ts) on the vector unit, as float32 programs
 * over two same-shaped inputs (the ops' inference refuses others), and AddN as a chain of vector
 * additions. Each program rounds every step to float32; `ulps` bounds the distance from the
 * float64 reference rounded once, derived from the program's roundings.
 */
import type { DType } from "../../../core/dtype.ts";
import {
  admittingOverflow,
  defineKernel,
  forDTypes,
  forwardInput,
  type Tolerance,
} from "../../../core/kernel.ts";
import { StopGradient } from "../../../core/ops/grad_array.ts";
import { GENERIC_HOST_ARITHMETIC_KERNELS } from "../../../core/basic_kernels.ts";
import type { OpDef } from "../../../core/op.ts";
import { numbers, type Tensor } from "../../../core/tensor.ts";
import * as G from "../../../core/ops/grad_math.ts";
import { isFloat } from "../../../core/dtype.ts";
import { bf16 } from "../numerics.ts";
import { maxAbs } from "../tolerance.ts";
import {
  rsqrtGradSubnormalLoss,
  sqrtGradSubnormalLoss,
  subnormalSteps,
} from "../../../core/subnormal_grad_loss.ts";
import { finish, operand, target } from "./engine.ts";
import {
  input,
  metadataOnly,
  output,
  TPU_FLOATS,
  TPU_MOVABLE,
  TPU_REALS,
  type TpuContext,
  type TpuKernel,
  tpuKernel,
  vpuTolerance,
} from "./util.ts";

const f = Math.fround;
type Scalar2 = (a: number, b: number) => number;

// Selu's constants as float32 registers hold them.
const SELU_SCALE = f(1.0507009873554804934193349852946);
const SELU_SCALE_ALPHA = f(1.0507009873554804934193349852946 * 1.6732632423543772848170429916717);

interface GradProgram {
  op: OpDef<{ T: DType }>;
  /** The float32 program, inputs in TensorFlow's order. */
  f32: Scalar2;
  /** Integer semantics, for ops that take int32. */
  int?: Scalar2;
  alu: number;
  eup?: number;
  ulps?: number;
  /** An absolute term from the case, where a relative bound fails. */
  atol?: (inputs: readonly Tensor[]) => number;
  /**
   * The largest |intermediate| for one pair of inputs, where the program can overflow float32
   * while the float64 reference does not, as TensorFlow's float32 kernels do (admittingOverflow).
   */
  partials?: (a: number, b: number) => number;
  why?: string;
}

/** The largest of `partials` over the elements of two same-shaped inputs (NaN pairs skipped). */
function pairBound(
  [a, b]: readonly Tensor[],
  partials: (x: number, y: number) => number,
): number {
  const as = numbers(a), bs = numbers(b);
  let m = 0;
  for (let i = 0; i < as.length; i++) {
    const p = partials(as[i], bs[i]);
    if (p > m) m = p;
  }
  return m;
}

/** sigmoid(x) in float32 from exp of -|x| only (exp(-x) overflows below -88). */
function sigmoid(x: number): number {
  const e = f(Math.exp(-Math.abs(x)));
  return x >= 0 ? f(1 / f(1 + e)) : f(e / f(1 + e));
}

const PROGRAMS: GradProgram[] = [
  { op: G.ReluGrad, f32: (g, x) => (x > 0 ? g : 0), int: (g, x) => (x > 0 ? g : 0), alu: 2 },
  {
    op: G.Relu6Grad,
    f32: (g, x) => (x > 0 && x < 6 ? g : 0),
    int: (g, x) => (x > 0 && x < 6 ? g : 0),
    alu: 3,
  },
  {
    op: G.EluGrad,
    partials: (g, y) => Math.abs(g) * (Math.abs(y) + 1),
    f32: (g, y) => (y < 0 ? f(g * f(y + 1)) : g),
    alu: 3,
    ulps: 2,
    why: "y + 1 (exact on [-1, -0.5]) and the product each round once",
  },
  {
    op: G.SeluGrad,
    partials: (g, y) => Math.abs(g) * (Math.abs(y) + 2),
    f32: (g, y) => (y < 0 ? f(g * f(y + SELU_SCALE_ALPHA)) : f(g * SELU_SCALE)),
    alu: 3,
    ulps: 3,
    // y + scale·alpha cancels as y nears -scale·alpha: the constant's float32 rounding is then a
    // large relative error, |gradient| · 2^-24 · 1.76 absolutely.
    atol: ([g]) => maxAbs(g) * 2 ** -22,
    why: "Selu's constants rounded to float32; y + scale·alpha cancels near its minimum",
  },
  {
    op: G.SoftplusGrad,
    f32: (g, x) => f(g * sigmoid(x)),
    alu: 4,
    eup: 2,
    ulps: 5,
    atol: () => 2 ** -126,
    why: "sigmoid in float32 (three roundings) and the product; subnormal results lose bits",
  },
  {
    op: G.SigmoidGrad,
    partials: (y, dy) => Math.max(Math.abs(dy * y), Math.abs(y) * (Math.abs(y) + 1)),
    // TensorFlow's order, dy·y first: a zero gradient stays 0 for the largest y.
    f32: (y, dy) => f(f(dy * y) * f(1 - y)),
    alu: 3,
    ulps: 2,
    why: "1 - y, y(1 - y) and the product each round once",
  },
  {
    op: G.TanhGrad,
    partials: (y, dy) => (Math.abs(y) + 1) ** 2 * Math.max(1, Math.abs(dy)),
    // (1 - y)(1 + y) rather than 1 - y²: no cancellation as |y| nears 1.
    f32: (y, dy) => f(dy * f(f(1 - y) * f(1 + y))),
    alu: 4,
    ulps: 3,
    why: "1 - y, 1 + y and two products each round once",
  },
  {
    op: G.RsqrtGrad,
    partials: (y, dy) => Math.abs(y) ** 3 * Math.max(1, Math.abs(dy)),
    f32: (y, dy) => f(f(-0.5 * dy) * f(f(y * y) * y)),
    alu: 4,
    ulps: 2,
    atol: ([y, dy]) => rsqrtGradSubnormalLoss(y, dy, 3),
    why: "y², y³ and the product each round once (halving may lose a subnormal bit)",
  },
  {
    op: G.SqrtGrad,
    f32: (y, dy) => f(f(0.5 * dy) / y),
    alu: 1,
    eup: 1,
    ulps: 1,
    atol: ([y, dy]) => sqrtGradSubnormalLoss(y, dy, 2),
    why: "one rounded division (halving may lose a subnormal bit)",
  },
  {
    op: G.ReciprocalGrad,
    partials: (y, dy) => y * y * Math.max(1, Math.abs(dy)),
    f32: (y, dy) => f(-dy * f(y * y)),
    alu: 2,
    ulps: 2,
    why: "y² and the product each round once",
  },
];

/** Applies `program` elementwise to two same-shaped buffers and charges the vector unit. */
function runPair<A extends { T: DType }>(
  ctx: TpuContext<A>,
  program: Scalar2,
  alu: number,
  eup = 0,
): void {
  const a = input(ctx, 0), b = input(ctx, 1), out = output(ctx, 0, a.shape);
  const as = operand(a), bs = operand(b), ys = target(out);
  for (let i = 0; i < ys.length; i++) ys[i] = program(as[i], bs[i]);
  finish(out, ys);
  const n = out.data.length;
  const widen = out.dtype === "bfloat16" ? 3 * n : 0; // unpack both operands, pack the result
  ctx.device.charge(ctx, {
    vpuOps: n * alu + widen,
    eupOps: n * eup,
    hbmBytes: a.bytes + b.bytes + out.bytes,
    flops: n * (alu + eup),
  });
}

function gradKernel(p: GradProgram): TpuKernel {
  const dtypes = (p.int ? TPU_REALS : TPU_FLOATS).filter((d) => p.op.testDTypes.includes(d));
  return tpuKernel(p.op, {
    dtypes,
    create({ attrs }) {
      const program = isFloat(attrs.T) ? p.f32 : p.int!;
      return { run: (ctx) => runPair(ctx, program, p.alu, p.eup) };
    },
    tolerance: (c): Tolerance => {
      const v = vpuTolerance(c.attrs.T, p.ulps ?? 0, p.why ?? "");
      // A select (no ulps) is exact; arithmetic may round a subnormal intermediate.
      const steps = p.ulps ? subnormalSteps(c.inputs, p.alu) : 0;
      const atol = Math.max(p.atol?.(c.inputs) ?? 0, steps);
      const t = atol > 0 ? { ...v, atol } : v;
      return p.partials ? admittingOverflow(t, pairBound(c.inputs, p.partials)) : t;
    },
  });
}

/** LeakyReluGrad: alpha is a float attr, held as a float32 scalar register. */
const leakyReluGrad = tpuKernel(G.LeakyReluGrad, {
  dtypes: TPU_FLOATS,
  create({ attrs }) {
    const alpha = f(attrs.alpha);
    const program: Scalar2 = (g, x) => (x > 0 ? g : f(alpha * g));
    return { run: (ctx) => runPair(ctx, program, 2) };
  },
  tolerance: (c) =>
    vpuTolerance(c.attrs.T, 2, "alpha rounded to float32, then one rounded product"),
});

/**
 * AddN: inputs added in order, each sum rounded to float32 (as TensorFlow adds in T; the
 * reference rounds each pairwise sum to T). bfloat16 sums are widened, added and narrowed per
 * step, as the reference rounds each sum to bfloat16.
 */
const addN = tpuKernel(G.AddN, {
  dtypes: TPU_REALS,
  run(ctx) {
    const first = input(ctx, 0), out = output(ctx, 0, first.shape);
    const n = out.data.length, N = ctx.inputs.length;
    const narrow = out.dtype === "bfloat16";
    const ys = target(out);
    const x0 = operand(first);
    for (let i = 0; i < n; i++) ys[i] = x0[i];
    let bytes = first.bytes + out.bytes;
    for (let k = 1; k < N; k++) {
      const x = input(ctx, k), xs = operand(x);
      bytes += x.bytes;
      if (out.dtype === "int32") {
        for (let i = 0; i < n; i++) ys[i] = (ys[i] + xs[i]) | 0;
      } else if (narrow) {
        for (let i = 0; i < n; i++) ys[i] = bf16(f(ys[i] + xs[i]));
      } else {
        for (let i = 0; i < n; i++) ys[i] = f(ys[i] + xs[i]);
      }
    }
    finish(out, ys);
    ctx.device.charge(ctx, {
      vpuOps: n * (N - 1) * (narrow ? 3 : 1),
      hbmBytes: bytes,
      flops: n * (N - 1),
    });
  },
  tolerance: (c) =>
    c.attrs.T === "bfloat16"
      // Each float32 sum of two bfloat16 values is exact, so rounding it to bfloat16 is the
      // reference's rounding of the same exact sum.
      ? { reason: "each bfloat16 sum is formed exactly in float32 and rounded once, as REF" }
      : vpuTolerance(c.attrs.T, 0, ""),
});

/** StopGradient's forward pass is the identity: it forwards the buffer, taking no time. */
const stopGradient = forDTypes(
  [defineKernel(StopGradient, { run: forwardInput })],
  TPU_MOVABLE,
).map(metadataOnly);

export const GRAD_MATH_KERNELS: readonly TpuKernel[] = [
  ...stopGradient,
  // Shape arithmetic in host memory: no machine time.
  ...GENERIC_HOST_ARITHMETIC_KERNELS.map(metadataOnly),
  ...PROGRAMS.map(gradKernel),
  leakyReluGrad,
  addN,
];
