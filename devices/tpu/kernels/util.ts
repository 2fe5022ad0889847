/**
 * What every TPU kernel shares: its context type, typed access to its buffers, the dtypes the
 * machine computes on, and wrapping a kernel that needs no machine time (metadata only).
 */
import type { DType } from "../../../core/dtype.ts";
import {
  defineKernel,
  instantiate,
  type Kernel,
  type KernelContext,
  type Tolerance,
} from "../../../core/kernel.ts";
import type { Attrs, OpDef } from "../../../core/op.ts";
import type { Shape } from "../../../core/shape.ts";
import type { TpuDevice } from "../device.ts";
import { TpuBuffer } from "../hbm.ts";

export type TpuContext<A extends Attrs = Attrs> = KernelContext<A, TpuDevice>;
// A list of kernels holds ops of different attrs: the default `any` lets one array type hold them
// all without a cast (Kernel<A> is invariant in A), as core's Kernel does.
// deno-lint-ignore no-explicit-any
export type TpuKernel<A extends Attrs = any> = Kernel<A, TpuDevice>;

/** Declares a kernel for the TPU, with `ctx.device` typed as the TpuDevice. */
export function tpuKernel<A extends Attrs>(
  op: OpDef<A>,
  kernel: Omit<Kernel<A, TpuDevice>, "op">,
): TpuKernel<A> {
  return defineKernel<A, TpuDevice>(op, kernel);
}

/** The floating dtypes the TPU computes in: float32, and bfloat16 stored and widened to float32. */
export const TPU_FLOATS: readonly DType[] = ["float32", "bfloat16"];
/** Dtypes of the vector unit's arithmetic (TPU v4 has no float16, int8 or int64 ALU). */
export const TPU_REALS: readonly DType[] = [...TPU_FLOATS, "int32"];
/**
 * Dtypes data movement handles: every numeric dtype, since it copies storage unread. (Strings
 * and resources do not live in HBM.)
 */
export const TPU_MOVABLE: readonly DType[] = [
  "float32",
  "bfloat16",
  "float16",
  "int32",
  "int64",
  "uint8",
  "int8",
  "bool",
];

/** Input i, which the executor has placed in HBM. */
export function input<A extends Attrs>(ctx: TpuContext<A>, i: number): TpuBuffer {
  const b = ctx.inputs[i];
  if (!(b instanceof TpuBuffer)) throw new Error(`input ${i} is not in TPU HBM`);
  return b;
}

/** Allocates output i in HBM. */
export function output<A extends Attrs>(ctx: TpuContext<A>, i: number, shape?: Shape): TpuBuffer {
  return ctx.output(i, shape);
}

/**
 * Copies storage between buffers of one dtype. (Typed as Float32Array only for the compiler:
 * `set` between arrays of the same element type copies any of them, BigInt64Array included.)
 */
export function copyStorage(dst: TpuBuffer["data"], src: TpuBuffer["data"], at = 0): void {
  (dst as Float32Array).set(src as Float32Array, at);
}

/** Bytes of the given buffers (inputs read plus outputs written: a kernel's HBM traffic). */
export function bytesOf(...buffers: readonly TpuBuffer[]): number {
  return buffers.reduce((n, b) => n + b.bytes, 0);
}

/** HBM bytes of every input in HBM (host inputs excluded). */
export function inputBytes<A extends Attrs>(ctx: TpuContext<A>): number {
  return ctx.inputs.reduce((n, b) => n + (b instanceof TpuBuffer ? b.bytes : 0), 0);
}

/**
 * A kernel that moves no data and computes nothing on the machine (a handle, a forwarded
 * buffer): it runs `kernel` and reports no work, so it takes no simulated time.
 */
export function metadataOnly<A extends Attrs>(kernel: Kernel<A>): TpuKernel<A> {
  const { run: _run, ...rest } = kernel;
  return {
    ...rest,
    create(c) {
      const inner = instantiate(kernel, c);
      return {
        run(ctx) {
          inner.run(ctx);
          ctx.device.charge(ctx, {});
        },
        dispose: inner.dispose && (() => inner.dispose!()),
      };
    },
  };
}

/**
 * The tolerance of a vector-unit result: `f32Ulps` float32 ULPs from the program's roundings,
 * and for bfloat16 outputs one bfloat16 ULP at the reference r: the float32 result ĉ is a few
 * float32 ULPs (far below ½ ulp16) from the exact c, so bf16(ĉ) and r = bf16(c) are equal or
 * neighbours (double rounding); neighbours lie ulp16(r) apart, or ½ ulp16(r) where r is a power
 * of two and bf16(ĉ) the value below it.
 */
export function vpuTolerance(dtype: DType, f32Ulps: number, why: string): Tolerance {
  if (dtype === "bfloat16") {
    return {
      ulps16: 1,
      reason: "computed in float32, then rounded to bfloat16 (double rounding)",
    };
  }
  return f32Ulps > 0
    ? { ulps: f32Ulps, reason: why }
    : { reason: "exact: each result is one correctly rounded float32 operation" };
}
