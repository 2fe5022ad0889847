/**
 * A fused op's epilogue applied in the contraction's own stores (_FusedConv2D and
 * FusedDepthwiseConv2dNative on CPU adapters): the bias or batch norm and the activation run on
 * the accumulators before they are written, instead of a temporary and a second pass over it
 * (nn/fused.ts's map). Only where every extra arg is a per-channel vector ([channels], the
 * output's last dim, known when the plan is built) and the output is float32: 16-bit ops round
 * the contraction's result before the bias as TensorFlow's unfused ops do, which the map keeps.
 *
 * Only a bias with no activation or a clamp-like one (Relu, Relu6, LeakyRelu): the programs
 * unroll their stores (RM pixels × 8 channels per invocation), and an exp or a batch norm's sqrt
 * inlined at each made lavapipe's compile of every variant seconds long; those keep the map.
 *
 * The programs bind the vectors after their own inputs and call the map's function
 * `f(x, v0, v1, ...)` per element; its uniforms (epsilon, alpha) follow the program's.
 */
import type { TensorSpec } from "../../core/op.ts";
import { type FusionAttrs, parseFusion } from "../../core/ops/fused.ts";
import type { UniformField } from "../../devices/webgpu/program.ts";
import type { MapFunction } from "../elementwise/map.ts";
import { type Binding, load } from "../wgsl.ts";

export interface Epilogue {
  /** The map's function: `fn f(x: f32, v0: f32, ...) -> f32` and its helpers. */
  readonly fn: MapFunction;
  /** How many per-channel vectors it reads (bound after the program's inputs). */
  readonly vectors: number;
  /** Uniform values of `fn.uniforms`, in order. */
  readonly uniforms: readonly number[];
}

/** Whether a fusion is one the contraction's stores apply (the file comment). */
export function storeFusion(attrs: FusionAttrs): boolean {
  const f = parseFusion(attrs);
  return f.kind === "BiasAdd" && ["", "Relu", "Relu6", "LeakyRelu"].includes(f.activation);
}

/** Whether `args` are all per-channel vectors of an `out` whose channels are known. */
export function perChannel(out: TensorSpec, args: readonly TensorSpec[]): boolean {
  const shape = out.shape;
  if (out.dtype !== "float32" || shape === null || shape.length === 0) return false;
  const channels = shape[shape.length - 1];
  return channels > 0 &&
    args.every((a) =>
      a.dtype === "float32" && a.shape !== null && a.shape.length >= 1 &&
      a.shape.every((d, i) => d === (i === a.shape!.length - 1 ? channels : 1))
    );
}

/** The key part and uniforms an epilogue adds to a program. */
export function epilogueKey(e: Epilogue | undefined): string {
  return e ? `${e.fn.name}/${e.vectors}` : "none";
}

export function epilogueUniforms(e: Epilogue | undefined): readonly UniformField[] {
  return e?.fn.uniforms ?? [];
}

/** The vectors' bindings (f32, vec4 when the program reads 4 channels at once). */
export function epilogueBindings(e: Epilogue | undefined, vec4: boolean): Binding[] {
  return Array.from(
    { length: e?.vectors ?? 0 },
    () => ({ type: "f32", dtype: "float32", vec4 }) as const,
  );
}

/**
 * Statements loading the vectors' values for channel `channel` (an element index, or a vec4
 * index when `vec4`) from inputs `first`... into `v0_${tag}`, ...: loaded once, applied to every
 * pixel of that channel.
 */
export function epilogueLoads(
  e: Epilogue | undefined,
  tag: string,
  channel: string,
  first: number,
  vec4: boolean,
): string {
  return Array.from(
    { length: e?.vectors ?? 0 },
    (_, k) =>
      `let v${k}_${tag} = ${
        load(`in${first + k}`, channel, { type: "f32", dtype: "float32", vec4 })
      };`,
  ).join(" ");
}

/**
 * WGSL applying the epilogue to `value` (an f32, or a vec4<f32> of 4 channels when `vec4`) with
 * the vectors `epilogueLoads(e, tag, ...)` loaded; `value` as is without an epilogue.
 */
export function applyEpilogue(
  e: Epilogue | undefined,
  value: string,
  tag: string,
  vec4: boolean,
): string {
  if (!e) return value;
  const args = (
    c: string,
  ) => [value + c, ...Array.from({ length: e.vectors }, (_, k) => `v${k}_${tag}${c}`)];
  if (!vec4) return `f(${args("").join(", ")})`;
  return `vec4<f32>(${
    ["x", "y", "z", "w"].map((c) => `f(${args(`.${c}`).join(", ")})`).join(", ")
  })`;
}
