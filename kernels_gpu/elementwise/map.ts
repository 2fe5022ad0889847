/**
 * The elementwise engine: one invocation per output element applies a scalar WGSL function to
 * one element of each input. Each input is read in one of four ways, chosen from the shapes:
 * - "flat": the input has the output's shape (index i);
 * - "scalar": one element (index 0);
 * - "tail": the input's shape is the output's trailing dims (a bias [C] on [N, H, W, C]), so it
 *   repeats every `size` elements (index i % size);
 * - "bcast": TensorFlow broadcasting, through per-dimension strides (0 along stretched dims)
 *   from the output's coordinates; the rank is unrolled, so it is part of the key.
 * When no input broadcasts in general, the output's size and every tail's size are multiples of
 * 4 and no store rounds, each invocation handles a vec4.
 */
import { type Shape, shapesEqual, sizeOf, stridesOf } from "../../core/shape.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program, UniformField } from "../../devices/webgpu/program.ts";
import { bindingOf } from "../kernel.ts";
import { type Binding, dimFields, linearGrid, linearMain, load, program, store } from "../wgsl.ts";

export type IndexMode = "flat" | "scalar" | "tail" | "bcast";

export interface MapFunction {
  /** Names the function in the key and the program name ("binary.AddV2.f32"). */
  readonly name: string;
  /** WGSL defining `fn f(a0: T0, ...) -> R` on compute types (plus any helpers it calls). */
  readonly wgsl: string;
  /** Extra uniforms the function reads (u.alpha). */
  readonly uniforms?: readonly UniformField[];
}

const WG = 256;

/** How each input is indexed for an output of `outShape` (static shapes may be partial). */
export function indexModes(inShapes: readonly Shape[], outShape: Shape): IndexMode[] {
  return inShapes.map((s) => {
    if (sizeOf(s) === 1 && s.every((d) => d >= 0)) return "scalar";
    if (s.length === outShape.length && shapesEqual(s, outShape)) return "flat";
    const core = s.slice(s.findIndex((d) => d !== 1));
    const tail = outShape.slice(outShape.length - core.length);
    return core.length <= outShape.length && shapesEqual(core, tail) ? "tail" : "bcast";
  });
}

/** Whether the vec4 layout applies. */
export function useVec4(
  modes: readonly IndexMode[],
  n: number,
  inputs: readonly Binding[],
  out: Binding,
  tailSizes: readonly number[],
): boolean {
  const plain = (b: Binding) =>
    b.type !== "f16" && (b.dtype === "float32" || b.dtype === "int32" || b.dtype === "bool");
  return n % 4 === 0 && modes.every((m) => m !== "bcast") && inputs.every(plain) && plain(out) &&
    out.dtype !== "bool" && tailSizes.every((t, j) => modes[j] !== "tail" || t % 4 === 0);
}

export function mapProgram(
  f: MapFunction,
  inputs: readonly Binding[],
  modes: readonly IndexMode[],
  out: Binding,
  rank: number,
  vec4: boolean,
): Program {
  const bcast = modes.includes("bcast");
  const uniforms: UniformField[] = [{ name: "n", type: "u32" }, ...(f.uniforms ?? [])];
  modes.forEach((m, j) => m === "tail" && uniforms.push({ name: `t${j}`, type: "u32" }));
  if (bcast) {
    uniforms.push(...dimFields("d", rank));
    modes.forEach((m, j) => m === "bcast" && uniforms.push(...dimFields(`s${j}_`, rank)));
  }
  const ins = inputs.map((b, j) => ({
    ...b,
    vec4: vec4 && (modes[j] === "flat" || modes[j] === "tail"),
  }));
  return program({
    name: f.name,
    key: [modes.join(""), bcast ? rank : 0, vec4],
    inputs: ins,
    outputs: [{ ...out, vec4 }],
    uniforms,
    body: () => mapBody(f, ins, modes, { ...out, vec4 }, rank, vec4),
  });
}

function mapBody(
  f: MapFunction,
  inputs: readonly Binding[],
  modes: readonly IndexMode[],
  out: Binding,
  rank: number,
  vec4: boolean,
): string {
  const lines = [f.wgsl, linearMain(WG), "  if (i >= u.n) { return; }"];
  if (modes.includes("bcast")) {
    lines.push("  var rest = i;");
    for (let d = rank - 1; d >= 0; d--) {
      lines.push(`  let c${d} = rest % u.d${d};`);
      if (d > 0) lines.push(`  rest = rest / u.d${d};`);
    }
  }
  const args = modes.map((m, j) => {
    const name = `in${j}`;
    if (m === "scalar") return load(name, "0", { ...inputs[j], vec4: false });
    if (m === "flat") return load(name, "i", inputs[j]);
    if (m === "tail") return load(name, `i % u.t${j}`, inputs[j]);
    const index = Array.from({ length: rank }, (_, d) => `c${d} * u.s${j}_${d}`).join(" + ");
    return load(name, index || "0u", inputs[j]);
  });
  if (!vec4) {
    lines.push(`  ${store("out0", "i", `f(${args.join(", ")})`, out)}`);
  } else {
    args.forEach((a, j) => lines.push(`  let a${j} = ${a};`));
    const lane = (c: string) =>
      `f(${modes.map((m, j) => (m === "scalar" ? `a${j}` : `a${j}.${c}`)).join(", ")})`;
    const value = `vec4(${["x", "y", "z", "w"].map(lane).join(", ")})`;
    lines.push(`  ${store("out0", "i", value, out)}`);
  }
  lines.push("}");
  return lines.join("\n");
}

/**
 * The dispatch of a map over `inputs` into `out`, with `extra` values for the function's
 * uniforms. Picks index modes and the vec4 layout from the buffers' shapes.
 */
export function mapDispatch(
  device: WebGpuDevice,
  f: MapFunction,
  inputs: readonly GpuBuffer[],
  out: GpuBuffer,
  extra: readonly number[] = [],
): Dispatch {
  const outShape = out.shape;
  const modes = indexModes(inputs.map((b) => b.shape), outShape);
  const ins = inputs.map((b) => bindingOf(b));
  const sizes = inputs.map((b) => b.size);
  const vec4 = useVec4(modes, out.size, ins, bindingOf(out), sizes);
  const rank = outShape.length;
  const p = mapProgram(f, ins, modes, bindingOf(out), rank, vec4);
  const n = vec4 ? out.size / 4 : out.size;
  const uniforms = [n, ...extra];
  modes.forEach((m, j) => m === "tail" && uniforms.push(vec4 ? sizes[j] / 4 : sizes[j]));
  if (modes.includes("bcast")) {
    uniforms.push(...outShape);
    inputs.forEach((b, j) =>
      modes[j] === "bcast" && uniforms.push(...broadcastStrides(b.shape, outShape))
    );
  }
  return {
    program: p,
    inputs,
    outputs: [out],
    uniforms,
    workgroups: linearGrid(n, WG, device.maxWorkgroups),
  };
}

/** Strides of `inShape` over the dims of `outShape`: 0 where the input is stretched or absent. */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const offset = outShape.length - inShape.length;
  const strides = stridesOf(inShape);
  return outShape.map((_, d) => d < offset || inShape[d - offset] === 1 ? 0 : strides[d - offset]);
}

/**
 * The program a node will need, predicted from static shapes: exact when they are fully known;
 * with unknown dims, inputs of identical partial shapes are taken as flat. Undefined when a rank
 * is unknown.
 */
export function predictMap(
  f: MapFunction,
  inShapes: readonly (readonly number[] | null)[],
  outShape: readonly number[] | null,
  inputs: readonly Binding[],
  out: Binding,
): Program | undefined {
  if (outShape === null || inShapes.some((s) => s === null)) return undefined;
  const modes = indexModes(inShapes as Shape[], outShape);
  // With unknown dims, a known part that is a multiple of 4 makes the whole one.
  const known = (s: readonly number[]) => s.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const tails = (inShapes as Shape[]).map(known);
  const vec4 = useVec4(modes, known(outShape), inputs, out, tails);
  return mapProgram(f, inputs, modes, out, outShape.length, vec4);
}
