/**
 * Binary and unary elementwise kernels (kernels_wasm/src/binary.c, unary.c). Broadcasting is
 * planned here: dims where both inputs step alike are merged, leaving a few outer dims with
 * element strides (0 where an input is broadcast) and one contiguous inner dim.
 */
import type { DType } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Kernel, Tolerance } from "../../core/kernel.ts";
import { BINARY_OPS, type BinaryOpDef } from "../../core/ops/binary.ts";
import { LeakyRelu, UNARY_OPS, type UnaryOpDef } from "../../core/ops/unary.ts";
import { type Shape, stridesOf } from "../../core/shape.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import {
  BINARY_CODES,
  type BinaryCode,
  DTYPE_CODES,
  UNARY_CODES,
  type UnaryCode,
} from "../codes.ts";
import { Task } from "../tasks.ts";
import { cpuDTypes, f64Word2, wasmKernel } from "./util.ts";

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

function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sizeOfShape(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/**
 * task_binary's launch for given shapes: the task count, the argument words with the three
 * pointers (words 0-2: out, x, y) left for the run to fill, and the work estimate. Equal shapes
 * and a scalar operand, the common cases, skip the broadcast plan: one flat row, which is all the
 * words the task reads for rank 0.
 */
interface BinaryLaunch {
  readonly tasks: number;
  readonly words: number[];
  readonly work: number;
}

function binaryLaunch(
  op: number,
  dt: number,
  chunk: number,
  x: Shape,
  y: Shape,
  out: Shape,
): BinaryLaunch {
  const n = sizeOfShape(out);
  const tasks = n === 0 ? 0 : Math.ceil(n / chunk), work = n * (chunk === CHUNK ? 1 : 8);
  const xFull = sameShape(x, out), yFull = sameShape(y, out);
  if ((xFull || sizeOfShape(x) === 1) && (yFull || sizeOfShape(y) === 1)) {
    return { tasks, work, words: [0, 0, 0, op, dt, 0, n, xFull ? 1 : 0, yFull ? 1 : 0, chunk] };
  }
  const p = broadcastPlan([x, y], out);
  const words = [
    0,
    0,
    0,
    op,
    dt,
    p.dims.length,
    p.inner,
    p.steps[0],
    p.steps[1],
    chunk,
    ...outerWords(p.dims),
    ...outerWords(p.strides[0]),
    ...outerWords(p.strides[1]),
  ];
  return { tasks, work, words };
}

/** Runs a binary launch on buffers (its pointer words are filled here, then copied by launch). */
function runBinary(d: WasmDevice, l: BinaryLaunch, x: Operand, y: Operand, out: Operand): void {
  if (l.tasks === 0) return;
  l.words[0] = out.ptr;
  l.words[1] = x.ptr;
  l.words[2] = y.ptr;
  d.launch(Task.task_binary, l.tasks, l.words, l.work);
}

/** Launches task_binary: out = op(x, y) with broadcasting (for kernels without an instance). */
export function launchBinary(
  d: WasmDevice,
  code: BinaryCode,
  x: Operand,
  y: Operand,
  out: Operand,
  chunk = CHUNK,
): void {
  const op = BINARY_CODES.indexOf(code);
  runBinary(d, binaryLaunch(op, dtypeCode(x.dtype), chunk, x.shape, y.shape, out.shape), x, y, out);
}

const COSTLY = new Set(["Pow", "FloorDiv", "FloorMod", "SquaredDifference"]);

function binaryKernel(op: BinaryOpDef): Kernel {
  const code = op.name as BinaryCode;
  const tolerance: Tolerance | undefined = op.name === "Pow"
    ? { ulps: 1, reason: "libm's pow and V8's may differ in the last bit of the double result" }
    : undefined;
  // Fixed per op: decided once here, not on every run. A zero integer divisor (a trap in wasm)
  // was refused by the op's check before the kernel runs.
  const chunk = COSTLY.has(code) ? CHUNK_COSTLY : CHUNK;
  const opCode = BINARY_CODES.indexOf(code);
  return wasmKernel(op, {
    dtypes: cpuDTypes(op.attrs.T.allowed ?? []),
    create({ inputs: [x, y], outputs: [out] }) {
      // The launch by shapes, seeded from the static ones: the broadcast plan is made once.
      const dt = dtypeCode(x.dtype);
      const launches = new ShapeMemo((xs, ys, os) => binaryLaunch(opCode, dt, chunk, xs, ys, os))
        .seed([x.shape, y.shape, out.shape]);
      return {
        run(ctx) {
          const [x, y] = ctx.inputs;
          // Equal shapes need no shape inference; anything else broadcasts as inference says.
          const out = sameShape(x.shape, y.shape) ? ctx.output(0, x.shape) : ctx.output(0);
          runBinary(ctx.device, launches.get(x.shape, y.shape, out.shape), x, y, out);
        },
      };
    },
    tolerance,
  });
}

/** Launches task_unary over a contiguous buffer. */
export function launchUnary(
  d: WasmDevice,
  code: UnaryCode,
  x: Operand,
  out: Operand,
  alpha = 0,
): void {
  unaryLauncher(code, x.dtype, alpha)(d, x, out);
}

/**
 * task_unary's launcher for one op, dtype and alpha, resolved once (a kernel instance keeps it):
 * a run adds only the pointers and the element count.
 */
function unaryLauncher(code: UnaryCode, dtype: DType, alpha: number) {
  const chunk = UNARY_TOLERANCE[code] ? CHUNK_COSTLY : CHUNK;
  const op = UNARY_CODES.indexOf(code), dt = dtypeCode(dtype), [a0, a1] = f64Word2(alpha);
  const words = [0, 0, op, dt, 0, chunk, a0, a1];
  return (d: WasmDevice, x: Operand, out: Operand): void => {
    const n = sizeOfShape(out.shape);
    words[0] = out.ptr;
    words[1] = x.ptr;
    words[4] = n;
    d.launch(Task.task_unary, Math.ceil(n / chunk), words, n * (chunk === CHUNK ? 1 : 8));
  };
}

const SIMD = "a float32x4 polynomial approximation (simd_math.h)";
const LIBM = "libm in double, rounded once; it may differ from V8's in the last bit";

/**
 * The float32 functions that are not exact. The SIMD bounds are checked on dense grids by
 * tests/wasm_math_test.ts (measured: exp, log, tanh 1 ULP; sigmoid 2), with one ULP to spare.
 */
const UNARY_TOLERANCE: Partial<Record<UnaryCode, Tolerance>> = {
  Exp: { ulps: 2, reason: SIMD },
  Log: { ulps: 2, reason: SIMD },
  Tanh: { ulps: 2, reason: SIMD },
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
    create({ inputs: [x] }) {
      const launch = unaryLauncher(code, x.dtype, 0);
      return {
        run(ctx) {
          const x = ctx.inputs[0];
          launch(ctx.device, x, ctx.output(0, x.shape));
        },
      };
    },
    tolerance: UNARY_TOLERANCE[code],
  });
}

const leakyReluKernel = wasmKernel(LeakyRelu, {
  dtypes: ["float32"],
  create({ inputs: [x], attrs }) {
    const launch = unaryLauncher("LeakyRelu", x.dtype, attrs.alpha);
    return {
      run(ctx) {
        const x = ctx.inputs[0];
        launch(ctx.device, x, ctx.output(0, x.shape));
      },
    };
  },
});

export const ELEMENTWISE_KERNELS: readonly Kernel[] = [
  ...BINARY_OPS.map(binaryKernel),
  ...UNARY_OPS.map(unaryKernel),
  leakyReluKernel,
];
