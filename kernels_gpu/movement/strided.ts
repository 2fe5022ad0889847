/**
 * The strided copy every pure data-movement op reduces to: output element at coordinates c (over
 * the output dims, rank unrolled) reads the input at base + Σ c[d]·stride[d], where strides may be
 * 0 or negative. Two variants extend it: "tile" reads coordinate c[d] mod dim[d] (Tile), and
 * "pad" shifts by before[d] and writes zero outside the input (Pad). Elements are copied in their
 * storage type, so every dtype moves unchanged.
 */
import { stridesOf } from "../../core/shape.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program } from "../../devices/webgpu/program.ts";
import type { StorageType } from "../../devices/webgpu/storage.ts";
import { dimFields, linearGrid, linearMain, program } from "../wgsl.ts";

export type StridedMode = "copy" | "tile" | "pad";

/** A strided view of an input: per output dim, the input stride (and for tile/pad, more). */
export interface StridedView {
  readonly mode: StridedMode;
  /** The dims the copy iterates (the output, possibly under another shape of the same size). */
  readonly dims: readonly number[];
  /** Per dim, the input's element stride. */
  readonly strides: readonly number[];
  /** Flat input index of coordinates 0 (copy only). */
  readonly base?: number;
  /** tile: the input's dims (coordinates wrap); pad: the input's dims (bounds). */
  readonly inDims?: readonly number[];
  /** pad: elements of padding before each dim. */
  readonly before?: readonly number[];
}

const WG = 256;

export function stridedProgram(type: StorageType, mode: StridedMode, rank: number): Program {
  const uniforms = [
    { name: "n", type: "u32" as const },
    { name: "base", type: "i32" as const },
    ...dimFields("d", rank),
    ...dimFields("s", rank, "i32"),
    ...(mode === "copy" ? [] : dimFields("m", rank, "i32")),
    ...(mode === "pad" ? dimFields("b", rank, "i32") : []),
  ];
  const lines = [
    linearMain(WG),
    "  if (i >= u.n) { return; }",
    "  var rest = i;",
    "  var src = u.base;",
  ];
  if (mode === "pad") lines.push("  var inside = true;");
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  let c${d} = i32(rest % u.d${d});`);
    if (d > 0) lines.push(`  rest = rest / u.d${d};`);
    if (mode === "copy") lines.push(`  src += c${d} * u.s${d};`);
    if (mode === "tile") lines.push(`  src += (c${d} % u.m${d}) * u.s${d};`);
    if (mode === "pad") {
      lines.push(
        `  let p${d} = c${d} - u.b${d};`,
        `  inside = inside && p${d} >= 0 && p${d} < u.m${d};`,
        `  src += p${d} * u.s${d};`,
      );
    }
  }
  lines.push(
    mode === "pad"
      ? `  out0[i] = select(${type}(0), in0[u32(max(src, 0))], inside);`
      : "  out0[i] = in0[u32(src)];",
    "}",
  );
  // The bindings' dtype is nominal: a copy never converts or rounds.
  return program({
    name: `strided.${mode}`,
    key: [rank],
    inputs: [{ type, dtype: "float32" }],
    outputs: [{ type, dtype: "float32" }],
    uniforms,
    body: () => lines.join("\n") + "\n",
  });
}

/** The dispatch copying `view` of `x` into `out` (nothing when empty). */
export function stridedDispatch(
  device: WebGpuDevice,
  x: GpuBuffer,
  out: GpuBuffer,
  view: StridedView,
  programs?: NodeStrided,
): Dispatch {
  const n = out.size;
  const rank = view.dims.length;
  return {
    program: programs?.forRank(rank) ?? stridedProgram(x.type, view.mode, rank),
    inputs: [x],
    outputs: [out],
    uniforms: [
      n,
      view.base ?? 0,
      ...view.dims,
      ...view.strides,
      ...(view.mode === "copy" ? [] : view.inDims!),
      ...(view.mode === "pad" ? view.before! : []),
    ],
    workgroups: n === 0 ? [0] : linearGrid(n, WG, device.maxWorkgroups),
  };
}

/**
 * One node's strided-copy programs, made with its kernel instance: the one at the rank predicted
 * from static shapes (its `programs`, compiled when the plan is built), and any other rank a run
 * needs, each derived once.
 */
export class NodeStrided {
  readonly programs: readonly Program[];
  private readonly byRank = new Map<number, Program>();

  constructor(
    private readonly type: StorageType,
    private readonly mode: StridedMode,
    staticRank?: number,
  ) {
    this.programs = staticRank === undefined ? [] : [this.forRank(staticRank)];
  }

  forRank(rank: number): Program {
    let p = this.byRank.get(rank);
    if (!p) this.byRank.set(rank, p = stridedProgram(this.type, this.mode, rank));
    return p;
  }
}

/** The plain copy of a block: `dims` elements from `begin`, stepping by `steps`. */
export function blockView(
  inShape: readonly number[],
  begin: readonly number[],
  steps: readonly number[],
  dims: readonly number[],
): StridedView {
  const inStrides = stridesOf(inShape);
  return {
    mode: "copy",
    dims,
    strides: steps.map((s, d) => s * inStrides[d]),
    base: begin.reduce((o, b, d) => o + b * inStrides[d], 0),
  };
}
