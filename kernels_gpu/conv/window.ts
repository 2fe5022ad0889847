/**
 * Window programs: one invocation per output element (or per 4 channels of one pixel) walks its
 * window directly. DepthwiseConv2dNative sums input × filter over it; MaxPool and AvgPool take
 * the max or the mean of the real (non-padding) taps. Windows are placed by convGeometry; its
 * numbers are uniforms. With 4 | channels (and no channel multiplier) an invocation handles a
 * vec4 of channels: one load per tap instead of four.
 */
import type { WindowGeometry } from "../../core/ops/conv_geometry.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program } from "../../devices/webgpu/program.ts";
import { bindingOf } from "../kernel.ts";
import {
  type Binding,
  computeType,
  linearGrid,
  linearMain,
  load,
  program,
  store,
} from "../wgsl.ts";

export type WindowOp = "depthwise" | "max" | "avg";

const WG = 64;
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

/** Whether the vec4-channel layout applies. */
export function windowVec4(channels: number, multiplier: number, bs: Binding[]): boolean {
  const plain = (b: Binding) => b.type !== "f16" && (b.dtype === "float32" || b.dtype === "int32");
  return channels % 4 === 0 && multiplier === 1 && bs.every(plain);
}

export function windowProgram(op: WindowOp, ins: Binding[], out: Binding, vec4: boolean): Program {
  const t = computeType(out.dtype);
  const v = vec4 ? `vec4<${t}>` : t;
  const x = { ...ins[0], vec4 };
  const bindings = op === "depthwise" ? [x, { ...ins[1], vec4 }] : [x];
  const init = op === "max" ? (t === "f32" ? "neg_inf()" : "-2147483647 - 1") : "0";
  const tap = op === "depthwise"
    ? `acc += ${load("in0", "xi", x)} * ${load("in1", "fi", bindings[1])};`
    : op === "max"
    ? `let xv = ${load("in0", "xi", x)}; acc = select(max(acc, xv), xv, xv != xv);`
    : `acc += ${load("in0", "xi", x)}; count += 1.0;`;
  const result = op === "avg" ? "acc / count" : "acc";
  const cv = vec4 ? "4u" : "1u";
  return program({
    name: `window.${op}`,
    key: [vec4],
    inputs: bindings,
    outputs: [{ ...out, vec4 }],
    uniforms: [
      ...FIELDS.map((name) => ({ name, type: "u32" as const })),
      { name: "padTop", type: "i32" },
      { name: "padLeft", type: "i32" },
    ],
    body: () => `
fn neg_inf() -> f32 { return bitcast<f32>(0xff800000u); }
${linearMain(WG)}
  if (i >= u.n) { return; }
  // i counts output elements, or groups of 4 channels with vec4.
  let oc = (i % (u.OC / ${cv})) * ${cv};
  var rest = i / (u.OC / ${cv});
  let ow = rest % u.OW;
  rest = rest / u.OW;
  let oh = rest % u.OH;
  let b = rest / u.OH;
  let ic = oc / u.M;
  var acc = ${v}(${init});
  var count = 0.0;
  for (var fh = 0u; fh < u.FH; fh++) {
    let ih = i32(oh * u.sh + fh * u.dh) - u.padTop;
    if (ih < 0 || ih >= i32(u.H)) { continue; }
    for (var fw = 0u; fw < u.FW; fw++) {
      let iw = i32(ow * u.sw + fw * u.dw) - u.padLeft;
      if (iw < 0 || iw >= i32(u.W)) { continue; }
      let xi = (((b * u.H + u32(ih)) * u.W + u32(iw)) * u.C + ic) / ${cv};
      let fi = (((fh * u.FW + fw) * u.C + ic) * u.M + oc % u.M) / ${cv};
      ${tap}
    }
  }
  ${store("out0", "i", result, { ...out, vec4 })}
}
`,
  });
}

export function windowDispatch(
  device: WebGpuDevice,
  op: WindowOp,
  g: WindowGeometry,
  inputs: GpuBuffer[],
  out: GpuBuffer,
): Dispatch {
  const ins = inputs.map((b) => bindingOf(b));
  const vec4 = windowVec4(g.outChannels, g.channelMultiplier, [...ins, bindingOf(out)]);
  const n = vec4 ? out.size / 4 : out.size;
  return {
    program: windowProgram(op, ins, bindingOf(out), vec4),
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
    ],
    workgroups: linearGrid(n, WG, device.maxWorkgroups),
  };
}
