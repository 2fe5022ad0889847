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

/** What a map's dispatch derives from its shapes: the program, uniform values and grid. */
interface MapLaunch {
  readonly program: Program;
  readonly uniforms: readonly number[];
  readonly workgroups: readonly [number, number?, number?];
}

/**
 * The launch of a map over `inputs` into `out`, with `extra` values for the function's uniforms.
 * Picks index modes and the vec4 layout from the buffers' shapes; `predicted` is used where it
 * has the same layout (its key would be the same).
 */
function mapLaunch(
  device: WebGpuDevice,
  f: MapFunction,
  inputs: readonly GpuBuffer[],
  out: GpuBuffer,
  extra: readonly number[],
  predicted?: PredictedMap,
): MapLaunch {
  const outShape = out.shape;
  const modes = indexModes(inputs.map((b) => b.shape), outShape);
  const ins = inputs.map((b) => bindingOf(b));
  const sizes = inputs.map((b) => b.size);
  const vec4 = useVec4(modes, out.size, ins, bindingOf(out), sizes);
  const rank = outShape.length;
  const bcast = modes.includes("bcast");
  const same = predicted !== undefined && predicted.vec4 === vec4 &&
    (!bcast || predicted.rank === rank) && modes.every((m, j) => m === predicted.modes[j]);
  const p = same ? predicted.program : mapProgram(f, ins, modes, bindingOf(out), rank, vec4);
  const n = vec4 ? out.size / 4 : out.size;
  const uniforms = [n, ...extra];
  modes.forEach((m, j) => m === "tail" && uniforms.push(vec4 ? sizes[j] / 4 : sizes[j]));
  if (bcast) {
    uniforms.push(...outShape);
    inputs.forEach((b, j) =>
      modes[j] === "bcast" && uniforms.push(...broadcastStrides(b.shape, outShape))
    );
  }
  return { program: p, uniforms, workgroups: linearGrid(n, WG, device.maxWorkgroups) };
}

/**
 * The dispatch of a map over `inputs` into `out`, with `extra` values for the function's
 * uniforms, derived from the buffers' shapes (for kernels without a NodeMap: variable updates).
 */
export function mapDispatch(
  device: WebGpuDevice,
  f: MapFunction,
  inputs: readonly GpuBuffer[],
  out: GpuBuffer,
  extra: readonly number[] = [],
): Dispatch {
  const l = mapLaunch(device, f, inputs, out, extra);
  return { ...l, inputs, outputs: [out] };
}

/**
 * One node's map, made with its kernel instance when the plan is built: the function and the
 * program predicted from the static shapes (its `programs`, which the device compiles then).
 * A run dispatches that program when its shapes give the same layout (index modes, rank, vec4),
 * and reuses the whole launch (uniforms, grid) while the shapes are the previous run's; other
 * shapes (statically unknown dims, a different broadcast) derive their own.
 */
export class NodeMap {
  readonly programs: readonly Program[];
  private readonly predicted?: PredictedMap;
  private shapes: readonly Shape[] = [];
  private last?: MapLaunch;

  /**
   * `inShapes`: the static shapes the inputs will have as bound (a channel vector's view);
   * `extra`: the function's uniform values, fixed per node (attrs).
   */
  constructor(
    private readonly f: MapFunction,
    inShapes: readonly (readonly number[] | null)[],
    outShape: readonly number[] | null,
    inputs: readonly Binding[],
    out: Binding,
    private readonly extra: readonly number[] = [],
  ) {
    this.predicted = predictMapLayout(f, inShapes, outShape, inputs, out);
    this.programs = this.predicted ? [this.predicted.program] : [];
  }

  dispatch(device: WebGpuDevice, inputs: readonly GpuBuffer[], out: GpuBuffer): Dispatch {
    if (!this.last || !this.sameShapes(inputs, out)) {
      this.last = mapLaunch(device, this.f, inputs, out, this.extra, this.predicted);
      this.shapes = [...inputs.map((b) => b.shape), out.shape];
    }
    return { ...this.last, inputs, outputs: [out] };
  }

  private sameShapes(inputs: readonly GpuBuffer[], out: GpuBuffer): boolean {
    const s = this.shapes;
    if (s.length !== inputs.length + 1 || !shapesEqual(s[inputs.length], out.shape)) return false;
    for (let j = 0; j < inputs.length; j++) {
      if (!shapesEqual(s[j], inputs[j].shape)) return false;
    }
    return true;
  }
}

/** Strides of `inShape` over the dims of `outShape`: 0 where the input is stretched or absent. */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const offset = outShape.length - inShape.length;
  const strides = stridesOf(inShape);
  return outShape.map((_, d) => d < offset || inShape[d - offset] === 1 ? 0 : strides[d - offset]);
}

/** A program predicted from static shapes, with the layout it was made for. */
interface PredictedMap {
  readonly program: Program;
  readonly modes: readonly IndexMode[];
  readonly rank: number;
  readonly vec4: boolean;
}

/**
 * The program a node will need, predicted from static shapes: exact when they are fully known;
 * with unknown dims, inputs of identical partial shapes are taken as flat. Undefined when a rank
 * is unknown.
 */
function predictMapLayout(
  f: MapFunction,
  inShapes: readonly (readonly number[] | null)[],
  outShape: readonly number[] | null,
  inputs: readonly Binding[],
  out: Binding,
): PredictedMap | undefined {
  if (outShape === null || inShapes.some((s) => s === null)) return undefined;
  const modes = indexModes(inShapes as Shape[], outShape);
  // With unknown dims, a known part that is a multiple of 4 makes the whole one.
  const known = (s: readonly number[]) => s.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const tails = (inShapes as Shape[]).map(known);
  const vec4 = useVec4(modes, known(outShape), inputs, out, tails);
  const rank = outShape.length;
  return { program: mapProgram(f, inputs, modes, out, rank, vec4), modes, rank, vec4 };
}
