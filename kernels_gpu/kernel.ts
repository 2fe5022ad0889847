/**
 * What kernels_gpu's kernels share: `defineGpuKernel`, the binding of a buffer or a graph tensor,
 * and the tolerances of float results as data.
 */
import type { DType } from "../core/dtype.ts";
import type { KernelCase, KernelConstruction, Tolerance } from "../core/kernel.ts";
import type { Attrs, OpDef, TensorSpec } from "../core/op.ts";
import type { GpuBuffer } from "../devices/webgpu/buffer.ts";
import type { GpuKernel, WebGpuDevice } from "../devices/webgpu/device.ts";
import type { Program } from "../devices/webgpu/program.ts";
import type { Binding } from "./wgsl.ts";

/**
 * What a WebGPU kernel's `create` sees of its node when the plan is built (`any` attrs by
 * default, so helpers shared by ops of different attrs take any of them).
 */
// deno-lint-ignore no-explicit-any
export type GpuConstruction<A extends Attrs = any> = KernelConstruction<A, WebGpuDevice>;

/**
 * Declares a WebGPU kernel with `ctx.attrs` typed by the op and `ctx.inputs` as GpuBuffers.
 * Kernels that dispatch programs give `create`, deriving them once per node (a GpuInstance).
 */
export function defineGpuKernel<A extends Attrs>(
  op: OpDef<A>,
  kernel: Omit<GpuKernel<A>, "op">,
): GpuKernel<A> {
  return { op, ...kernel };
}

/**
 * A node's programs by what changes their code at run time (a rank, a column count), each
 * derived once per node. Kernels seed it in `create` with the program the static shapes predict,
 * which is the instance's `programs` (compiled when the plan is built).
 */
export class NodePrograms {
  private readonly byKey = new Map<string, Program>();
  readonly programs: Program[] = [];

  /** Adds the statically predicted program to `programs`. */
  seed(key: string, make: () => Program): this {
    this.programs.push(this.get(key, make));
    return this;
  }

  get(key: string, make: () => Program): Program {
    let p = this.byKey.get(key);
    if (!p) this.byKey.set(key, p = make());
    return p;
  }
}

/** The binding of a buffer. */
export function bindingOf(b: GpuBuffer, vec4 = false): Binding {
  return { type: b.type, dtype: b.dtype, vec4 };
}

/** The binding a graph tensor will have on the device (for `programs`). */
export function bindingFor(device: WebGpuDevice, dtype: DType, vec4 = false): Binding {
  return { type: device.storageOf(dtype), dtype, vec4 };
}

/** The binding a tensor of the graph (an input or output spec of a node) will have. */
export function staticBinding(device: WebGpuDevice, o: TensorSpec, vec4 = false): Binding {
  return bindingFor(device, o.dtype, vec4);
}

/** The rank of a graph tensor, or undefined when unknown. */
export function staticRank(o: TensorSpec): number | undefined {
  return o.shape === null ? undefined : o.shape.length;
}

/** Float32 ULP-bounded results, widened to the precision of 16-bit float outputs. */
export function floatTolerance(base: Omit<Tolerance, "reason">, reason: string) {
  return (c: KernelCase<Attrs>): Tolerance => {
    const dtype = c.inputs[0]?.dtype;
    return widenFor16(dtype, { ...base, reason });
  };
}

/**
 * A 16-bit float result rounds a float32 value that may be a few float32 ULPs from the float64
 * one; near a rounding midpoint that moves it one ULP of the 16-bit dtype (the reference rounds its
 * float64 value once): one bfloat16 or float16 unit in the last place on top of the float32 bound.
 */
export function widenFor16(dtype: DType | undefined, tol: Tolerance): Tolerance {
  if (dtype === "bfloat16" || dtype === "float16") return { ...tol, ulps16: 1 };
  return tol;
}

export const FLOATS: readonly DType[] = ["float32", "float16", "bfloat16"];
/** The dtypes with arithmetic kernels: floats and int32. */
export const ARITHMETIC: readonly DType[] = [...FLOATS, "int32"];
