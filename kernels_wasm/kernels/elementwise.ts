/**
 * Binary and unary elementwise kernels (kernels_wasm/src/binary.c, unary.c). Broadcasting is
 * planned here: dims where both inputs step alike are merged, leaving a few outer dims with
 * element strides (0 where an input is broadcast) and one contiguous inner dim.
 */
import type { DeviceBuffer } from "../../core/device.ts";
import { type DType, isInteger } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Kernel, Tolerance } from "../../core/kernel.ts";
import { BINARY_OPS, type BinaryOpDef } from "../../core/ops/binary.ts";
import { LeakyRelu, UNARY_OPS, type UnaryOpDef } from "../../core/ops/unary.ts";
import { type Shape, stridesOf } from "../../core/shape.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import {
  BINARY_CODES,
  type BinaryCode,
  DTYPE_CODES,
  UNARY_CODES,
  type UnaryCode,
} from "../codes.ts";
import { Task } from "../tasks.ts";
import { cpuDTypes, f64Word2, sizeOfBuffer, wasmBuffer, wasmKernel } from "./util.ts";

const MAX_OUTER = 7;
/** Elements per task: enough work to be worth a thread, small enough to balance. */
const CHUNK = 1 << 15;
/** For functions costing tens of cycles per element (exp, pow, erf, ...). */
const CHUNK_COSTLY = 1 << 12;

export function dtypeCode(d: DType): number {
  const i = (DTYPE_CODES as readonly string[]).indexOf(d);
  if (i < 0) throw new EdgeflowError(`the WASM kernels do not compute on ${d}`);
  return i;
}

export interface BroadcastPlan {
  /** Outer dims (at most MAX_OUTER). */
  dims: number[];
  /** Per input: its element strides along the outer dims (0 where broadcast). */
  strides: number[][];
  /** The contiguous inner dim, and each input's step along it (1, or 0 where broadcast). */
  inner: number;
  steps: number[];
}

/** Outer dims with element strides, and the inner dim's steps, for inputs broadcast to out. */
export function broadcastPlan(inputs: readonly Shape[], out: Shape): BroadcastPlan {
  const r = out.length;
  const full = inputs.map((s) => {
    const padded = [...new Array(r - s.length).fill(1), ...s];
    const st = stridesOf(padded);
    return padded.map((d, i) => (d === 1 ? 0 : st[i]));
  });
  const dims: number[] = [], strides: number[][] = inputs.map(() => []);
  for (let i = 0; i < r; i++) {
    const d = out[i];
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && full.every((f, k) => strides[k][last] === f[i] * d)) {
      dims[last] *= d;
      full.forEach((f, k) => (strides[k][last] = f[i]));
    } else {
      dims.push(d);
      full.forEach((f, k) => strides[k].push(f[i]));
    }
  }
  const inner = dims.pop() ?? 1;
  const steps = strides.map((s) => s.pop() ?? 0);
  if (dims.length > MAX_OUTER) {
    throw new EdgeflowError(
      `broadcasting ${inputs.map((s) => `[${s}]`).join(" with ")} needs ${dims.length + 1} ` +
        `dims; the WASM kernels handle ${MAX_OUTER + 1}`,
    );
  }
  return { dims, strides, inner, steps };
}

/** Pads a list of outer dims or strides to the MAX_OUTER words the C side reads. */
export function outerWords(a: readonly number[]): number[] {
  return [...a, ...new Array(MAX_OUTER - a.length).fill(0)];
}

/** A tensor in WASM memory as a task sees it (a WasmBuffer, or another shape over its bytes). */
export interface Operand {
  readonly ptr: number;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** Launches task_binary: out = op(x, y) with broadcasting. */
export function launchBinary(
  d: WasmDevice,
  code: BinaryCode,
  x: Operand,
  y: Operand,
  out: Operand,
  chunk = CHUNK,
): void {
  const n = out.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const p = broadcastPlan([x.shape, y.shape], out.shape);
  d.launch(Task.task_binary, Math.ceil(n / chunk), [
    out.ptr,
    x.ptr,
    y.ptr,
    BINARY_CODES.indexOf(code),
    dtypeCode(x.dtype),
    p.dims.length,
    p.inner,
    p.steps[0],
    p.steps[1],
    chunk,
    ...outerWords(p.dims),
    ...outerWords(p.strides[0]),
    ...outerWords(p.strides[1]),
  ]);
}

/** Integer division by zero is an error in TensorFlow (and a trap in wasm). */
function refuseZeroDivisor(d: WasmDevice, y: DeviceBuffer): void {
  const n = sizeOfBuffer(y);
  d.launch(Task.task_any_zero, 1, [wasmBuffer(y).ptr, n, dtypeCode(y.dtype), 0]);
  if (d.argWord(3) !== 0) throw new EdgeflowError("integer division by zero");
}

const DIVIDES = new Set(["RealDiv", "FloorDiv", "FloorMod"]);
const COSTLY = new Set(["Pow", "FloorDiv", "FloorMod", "SquaredDifference"]);

function binaryKernel(op: BinaryOpDef): Kernel {
  const code = op.name as BinaryCode;
  const tolerance: Tolerance | undefined = op.name === "Pow"
    ? { ulps: 1, reason: "libm's pow and V8's may differ in the last bit of the double result" }
    : undefined;
  return wasmKernel(op, {
    dtypes: cpuDTypes(op.attrs.T.allowed ?? []),
    run(ctx) {
      const [x, y] = ctx.inputs.map(wasmBuffer);
      if (DIVIDES.has(code) && isInteger(x.dtype)) refuseZeroDivisor(ctx.device, y);
      const out = wasmBuffer(ctx.output(0));
      launchBinary(ctx.device, code, x, y, out, COSTLY.has(code) ? CHUNK_COSTLY : CHUNK);
    },
    tolerance,
  });
}

/** Launches task_unary over a contiguous buffer. */
export function launchUnary(
  d: WasmDevice,
  code: UnaryCode,
  x: DeviceBuffer,
  out: DeviceBuffer,
  alpha = 0,
): void {
  const n = sizeOfBuffer(out);
  const chunk = UNARY_TOLERANCE[code] ? CHUNK_COSTLY : CHUNK;
  d.launch(Task.task_unary, Math.ceil(n / chunk), [
    wasmBuffer(out).ptr,
    wasmBuffer(x).ptr,
    UNARY_CODES.indexOf(code),
    dtypeCode(x.dtype),
    n,
    chunk,
    ...f64Word2(alpha),
  ]);
}

const SIMD = "a float32x4 polynomial approximation (simd_math.h)";
const LIBM = "libm in double, rounded once; it may differ from V8's in the last bit";

/** The float32 functions that are not exact, with their measured bound (tests/wasm_math_test). */
const UNARY_TOLERANCE: Partial<Record<UnaryCode, Tolerance>> = {
  Exp: { ulps: 2, reason: SIMD },
  Log: { ulps: 2, reason: SIMD },
  Tanh: { ulps: 3, reason: SIMD },
  Sigmoid: { ulps: 3, reason: SIMD },
  Log1p: { ulps: 1, reason: LIBM },
  Elu: { ulps: 1, reason: LIBM },
  Selu: { ulps: 1, reason: LIBM },
  Softplus: { ulps: 1, reason: LIBM },
  Erf: { ulps: 1, reason: LIBM },
  Sin: { ulps: 1, reason: LIBM },
  Cos: { ulps: 1, reason: LIBM },
};

function unaryKernel(op: UnaryOpDef): Kernel {
  const code = op.name as UnaryCode;
  return wasmKernel(op, {
    dtypes: cpuDTypes(op.attrs.T.allowed ?? []),
    run(ctx) {
      launchUnary(ctx.device, code, ctx.inputs[0], ctx.output(0));
    },
    tolerance: UNARY_TOLERANCE[code],
  });
}

const leakyReluKernel = wasmKernel(LeakyRelu, {
  dtypes: ["float32"],
  run(ctx) {
    launchUnary(ctx.device, "LeakyRelu", ctx.inputs[0], ctx.output(0), ctx.attrs.alpha);
  },
});

export const ELEMENTWISE_KERNELS: readonly Kernel[] = [
  ...BINARY_OPS.map(binaryKernel),
  ...UNARY_OPS.map(unaryKernel),
  leakyReluKernel,
];
