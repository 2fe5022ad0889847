/**
 * Window programs: DepthwiseConv2dNative sums input × filter over each window; MaxPool and
 * AvgPool take the max or the mean of its real (non-padding) taps. An invocation handles one
 * channel (or a vec4 of channels, with 4 | channels and no multiplier) of several neighbouring
 * output columns: with a horizontal stride of 1 or 2 and unit dilation the row-cached program
 * (window_row.ts) shares their input columns; otherwise this general one walks each window,
 * loading each tap's filter value once for its 4 columns. Windows are placed by convGeometry;
 * its numbers are uniforms.
 */
import type { WindowGeometry } from "../../core/ops/conv_geometry.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program } from "../../devices/webgpu/program.ts";
import { bindingOf, type NodePrograms } from "../kernel.ts";
import {
  type Binding,
  computeType,
  linearGrid,
  linearMain,
  load,
  maxNanHelper,
  program,
  store,
} from "../wgsl.ts";
import { ROW_MAX_FW, ROW_P, rowWindowProgram, windowInit, windowInputs } from "./window_row.ts";
import {
  applyEpilogue,
  type Epilogue,
  epilogueKey,
  epilogueLoads,
  epilogueUniforms,
} from "../nn/epilogue.ts";

export type WindowOp = "depthwise" | "max" | "avg";

const WG = 64;
/** Output columns per invocation: each tap's filter value is loaded once for all of them. */
const P = 4;
const CV = (vec4: boolean) => (vec4 ? 4 : 1);
const FIELDS = [
  "n",
  "OH",
  "OW",
  "OC",
  "H",
  "W",
  "C",
  "M",
  "FH",
  "FW",
  "sh",
  "sw",
  "dh",
  "dw",
];

const UNIFORMS = [
  ...FIELDS.map((name) => ({ name, type: "u32" as const })),
  { name: "padTop", type: "i32" as const },
  { name: "padLeft", type: "i32" as const },
];

/** The window width and horizontal stride the row-cached program unrolls. */
export interface RowShape {
  readonly fw: number;
  readonly sw: number;
}

/** The row-cached program's shape for a geometry, or undefined for the general one. */
export function rowShape(sw: number, dw: number, fw: number): RowShape | undefined {
  return (sw === 1 || sw === 2) && dw === 1 && fw > 0 && fw <= ROW_MAX_FW ? { fw, sw } : undefined;
}

/** The NodePrograms key of a layout. */
export function windowKey(vec4: boolean, row: RowShape | undefined): string {
  return `${vec4},${row ? `${row.fw}x${row.sw}` : 0}`;
}

/** Whether the vec4-channel layout applies. */
export function windowVec4(channels: number, multiplier: number, bs: Binding[]): boolean {
  const plain = (b: Binding) => b.type !== "f16" && (b.dtype === "float32" || b.dtype === "int32");
  return channels % 4 === 0 && multiplier === 1 && bs.every(plain);
}

/**
 * The program of a window op: row-cached with a `row` shape, else general. A fused depthwise
 * op's `epilogue` (nn/epilogue.ts) applies in the stores, its vectors bound after the filter.
 */
export function windowProgram(
  op: WindowOp,
  ins: Binding[],
  out: Binding,
  vec4: boolean,
  row?: RowShape,
  epilogue?: Epilogue,
): Program {
  if (row) return rowWindowProgram(op, ins, out, vec4, row, UNIFORMS, WG, epilogue);
  const t = computeType(out.dtype);
  const v = vec4 ? `vec4<${t}>` : t;
  const bindings = windowInputs(op, ins, vec4, epilogue);
  const x = bindings[0];
  const init = windowInit(op, t);
  const pixels = Array.from({ length: P }, (_, p) => p);
  const tap = (p: number) => {
    const xv = load("in0", "xi", x);
    if (op === "depthwise") return `acc${p} += ${xv} * fv;`;
    if (op === "max") return `acc${p} = max_nan(acc${p}, ${xv});`;
    return `acc${p} += ${xv}; count${p} += 1.0;`;
  };
  const result = (p: number) =>
    op === "avg" ? `acc${p} / count${p}` : applyEpilogue(epilogue, `acc${p}`, "e", vec4);
  const cv = `${CV(vec4)}u`;
  return program({
    name: `window.${op}`,
    key: [vec4, P, epilogueKey(epilogue)],
    inputs: bindings,
    outputs: [{ ...out, vec4 }],
    uniforms: [...UNIFORMS, ...epilogueUniforms(epilogue)],
    body: () =>
      `${epilogue?.fn.wgsl ?? ""}
fn neg_inf() -> f32 { return bitcast<f32>(0xff800000u); }
${maxNanHelper(t, vec4)}
${linearMain(WG)}
  if (i >= u.n) { return; }
  // i counts (channel group, block of ${P} output columns, row, image), channel group fastest.
  let groups = u.OC / ${cv};
  let blocks = (u.OW + ${P - 1}u) / ${P}u;
  let oc = (i % groups) * ${cv};
  var rest = i / groups;
  let ow0 = (rest % blocks) * ${P}u;
  rest = rest / blocks;
  let oh = rest % u.OH;
  let b = rest / u.OH;
  let ic = oc / u.M;
${pixels.map((p) => `  var acc${p} = ${v}(${init});\n  var count${p} = 0.0;`).join("\n")}
  for (var fh = 0u; fh < u.FH; fh++) {
    let ih = i32(oh * u.sh + fh * u.dh) - u.padTop;
    if (ih < 0 || ih >= i32(u.H)) { continue; }
    for (var fw = 0u; fw < u.FW; fw++) {
      ${
        op === "depthwise"
          ? `let fv = ${
            load("in1", `(((fh * u.FW + fw) * u.C + ic) * u.M + oc % u.M) / ${cv}`, bindings[1])
          };`
          : ""
      }
      let iw0 = i32(ow0 * u.sw + fw * u.dw) - u.padLeft;
${
        pixels.map((p) =>
          `      { let iw = iw0 + ${p} * i32(u.sw);
        if (ow0 + ${p}u < u.OW && iw >= 0 && iw < i32(u.W)) {
          let xi = (((b * u.H + u32(ih)) * u.W + u32(iw)) * u.C + ic) / ${cv};
          ${tap(p)}
        } }`
        ).join("\n")
      }
    }
  }
  let base = ((b * u.OH + oh) * u.OW + ow0) * groups + oc / ${cv};
  ${epilogueLoads(epilogue, "e", `oc / ${cv}`, 2, vec4)}
${
        pixels.map((p) =>
          `  if (ow0 + ${p}u < u.OW) { ${
            store("out0", `base + ${p}u * groups`, result(p), { ...out, vec4 })
          } }`
        ).join("\n")
      }
}
`,
  });
}

/** A window op's dispatch; `inputs` are x (the filter, the epilogue's vectors). */
export function windowDispatch(
  device: WebGpuDevice,
  op: WindowOp,
  g: WindowGeometry,
  inputs: GpuBuffer[],
  out: GpuBuffer,
  programs?: NodePrograms,
  epilogue?: Epilogue,
): Dispatch {
  const ins = inputs.map((b) => bindingOf(b));
  const vec4 = windowVec4(g.outChannels, g.channelMultiplier, [...ins, bindingOf(out)]);
  const groups = vec4 ? g.outChannels / 4 : g.outChannels;
  const row = rowShape(g.strideWidth, g.dilationWidth, g.filterWidth);
  const n = g.batch * g.outHeight * Math.ceil(g.outWidth / (row ? ROW_P : P)) * groups;
  const make = () => windowProgram(op, ins, bindingOf(out), vec4, row, epilogue);
  return {
    program: programs ? programs.get(windowKey(vec4, row), make) : make(),
    inputs,
    outputs: [out],
    uniforms: [
      n,
      g.outHeight,
      g.outWidth,
      g.outChannels,
      g.inHeight,
      g.inWidth,
      g.inChannels,
      g.channelMultiplier,
      g.filterHeight,
      g.filterWidth,
      g.strideHeight,
      g.strideWidth,
      g.dilationHeight,
      g.dilationWidth,
      g.padTop,
      g.padLeft,
      ...(epilogue?.uniforms ?? []),
    ],
    workgroups: linearGrid(n, WG, device.maxWorkgroups),
  };
}
