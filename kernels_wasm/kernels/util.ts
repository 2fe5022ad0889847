/** Helpers every WASM kernel family uses: buffers, argument words, tolerances. */
import type { DeviceBuffer } from "../../core/device.ts";
import { type DType, NUMERIC_DTYPES } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import { admittingOverflow, defineKernel, type Kernel, type Tolerance } from "../../core/kernel.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import { numbers, type Tensor } from "../../core/tensor.ts";
import { WasmBuffer } from "../../devices/wasm/buffer.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";

/** defineKernel for the WASM device: attrs typed by the op, `ctx.device` a WasmDevice. */
export function wasmKernel<A extends Attrs>(
  op: OpDef<A>,
  kernel: Omit<Kernel<A, WasmDevice>, "op">,
): Kernel<A, WasmDevice> {
  return defineKernel<A, WasmDevice>(op, kernel);
}

/** The WASM buffer behind an input (the executor copies inputs to the kernel's device first). */
export function wasmBuffer(b: DeviceBuffer): WasmBuffer {
  if (b instanceof WasmBuffer) return b;
  throw new EdgeflowError(
    `expected a buffer in WASM memory, got one on ${b.device?.name ?? "host"}`,
  );
}

/** Element count of a buffer. */
export function sizeOfBuffer(b: DeviceBuffer): number {
  let n = 1;
  for (const d of b.shape) n *= d;
  return n;
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

/** A float64 as two argument words (low first) that C reads with words_f64. */
export function f64Word2(x: number): [number, number] {
  f64[0] = x;
  return [f64Words[0], f64Words[1]];
}

/** The dtypes Edgeflow's CPU kernels cover: TensorFlow's CPU types we compute on. */
export const CPU_DTYPES = ["float32", "int32", "int64", "bool"] as const;

/** The dtypes of `allowed` that the WASM kernels cover. */
export function cpuDTypes(allowed: readonly DType[]): DType[] {
  return allowed.filter((d) => (CPU_DTYPES as readonly string[]).includes(d));
}

/** Every numeric dtype: what kernels that only move bytes accept. */
export const BYTE_DTYPES: readonly DType[] = NUMERIC_DTYPES;

/**
 * The largest finite |value| of a numeric tensor (1 for an empty one, so bounds stay positive).
 * Non-finite values make their outputs non-finite, compared exactly; a NaN here would make the
 * bound NaN and fail every finite output.
 */
export function maxAbs(t: Tensor): number {
  const xs = numbers(t);
  let m = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i])) m = Math.max(m, Math.abs(xs[i]));
  }
  return xs.length === 0 ? 1 : m;
}

/** float32's unit roundoff. */
export const U32 = 2 ** -24;

/**
 * The error bound of a float32 sum of k products |a| <= maxA, |b| <= maxB, each step rounding
 * at most twice (relaxed multiply-add may or may not fuse): 2k·u·Σ|a·b| <= 2k²·u·maxA·maxB.
 */
export function dotTolerance(k: number, maxA: number, maxB: number, reason: string): Tolerance {
  return admittingOverflow(
    { atol: 2 * (k + 1) * (k + 1) * U32 * maxA * maxB, reason },
    k * maxA * maxB,
  );
}
