/**
 * WGSL programs of the backward window ops, each one invocation per output element that gathers
 * what the forward op scattered (no atomics: WGSL has none for floats), summing in float32:
 * - "input" (Conv2DBackpropInput, DepthwiseConv2dNativeBackpropInput): dx[b, ih, iw, c] sums
 *   dy · filter over the windows that read it and their output channels;
 * - "filter" (the two BackpropFilters): df[fh, fw, c, k] sums input · dy over every window;
 * - "maxpool": dx sums the gradients of the windows whose first maximum (row-major, NaN never
 *   greater) it is, recomputed from the pool's input as TensorFlow's CPU kernel does;
 * - "avgpool": dx sums each covering window's gradient divided by its count of real taps.
 * Windows are placed by core's convGeometry; its numbers are uniforms.
 */
import type { WindowGeometry } from "../../core/ops/conv_geometry.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { type Binding, linearMain, load, program, store } from "../wgsl.ts";

export type WindowGradKind = "input" | "filter" | "maxpool" | "avgpool";

export const WG = 64;

const FIELDS = ["n", "N", "H", "W", "C", "OH", "OW", "OC", "M", "FH", "FW", "sh", "sw", "dh", "dw"];
const UNIFORMS = [
  ...FIELDS.map((name) => ({ name, type: "u32" as const })),
  { name: "padTop", type: "i32" as const },
  { name: "padLeft", type: "i32" as const },
];

/** The uniform values of a geometry, for an output of `n` elements. */
export function windowUniforms(g: WindowGeometry, n: number): number[] {
  return [
    n,
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.outChannels,
    g.channelMultiplier,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padTop,
    g.padLeft,
  ];
}

/** Splits `i` into (b, ih, iw, c) of the input [N, H, W, C]. */
const PIXEL = `
  let c = i % u.C;
  var rest = i / u.C;
  let iw = rest % u.W;
  rest = rest / u.W;
  let ih = rest % u.H;
  let b = rest / u.H;`;

/**
 * The windows covering (ih, iw) along one axis: oh with oh·s - pad + f·d = ih for some tap f;
 * `visit` is the loop body with `oh`/`ow` and the tap `fh`/`fw` bound.
 */
function coveringWindows(visit: string): string {
  return `
  for (var fh = 0u; fh < u.FH; fh++) {
    let th = i32(ih) + u.padTop - i32(fh * u.dh);
    if (th < 0 || th % i32(u.sh) != 0) { continue; }
    let oh = u32(th) / u.sh;
    if (oh >= u.OH) { continue; }
    for (var fw = 0u; fw < u.FW; fw++) {
      let tw = i32(iw) + u.padLeft - i32(fw * u.dw);
      if (tw < 0 || tw % i32(u.sw) != 0) { continue; }
      let ow = u32(tw) / u.sw;
      if (ow >= u.OW) { continue; }
${visit}
    }
  }`;
}

/**
 * dx of a convolution with out channels in vec4s (conv2d, 4 | OC): in0 the filter and in1
 * out_backprop bound as vec4s, four partial sums per pixel added at the end.
 */
function inputBodyVec4(ins: Binding[], out: Binding): string {
  return `${linearMain(WG)}
  if (i >= u.n) { return; }${PIXEL}
  var acc4 = vec4<f32>(0.0);${
    coveringWindows(`      let t = fh * u.FW + fw;
      let o = ((b * u.OH + oh) * u.OW + ow) * u.OC / 4u;
      let wrow = (t * u.C + c) * u.OC / 4u;
      for (var k = 0u; k < u.OC / 4u; k++) {
        acc4 += ${load("in1", "o + k", ins[1])} * ${load("in0", "wrow + k", ins[0])};
      }`)
  }
  let acc = (acc4.x + acc4.y) + (acc4.z + acc4.w);
  ${store("out0", "i", "acc", out)}
}`;
}

/** df of a convolution, four out channels per invocation (conv2d, 4 | OC); out0 as vec4s. */
function filterBodyVec4(ins: Binding[], out: Binding): string {
  return `${linearMain(WG)}
  if (i >= u.n) { return; }
  let k4 = i % (u.OC / 4u);
  var rest = i / (u.OC / 4u);
  let c = rest % u.C;
  rest = rest / u.C;
  let fw = rest % u.FW;
  let fh = rest / u.FW;
  var acc = vec4<f32>(0.0);
  for (var b = 0u; b < u.N; b++) {
    for (var oh = 0u; oh < u.OH; oh++) {
      let ih = i32(oh * u.sh + fh * u.dh) - u.padTop;
      if (ih < 0 || ih >= i32(u.H)) { continue; }
      for (var ow = 0u; ow < u.OW; ow++) {
        let iw = i32(ow * u.sw + fw * u.dw) - u.padLeft;
        if (iw < 0 || iw >= i32(u.W)) { continue; }
        let x = ((b * u.H + u32(ih)) * u.W + u32(iw)) * u.C + c;
        acc += ${load("in0", "x", ins[0])} * ${
    load("in1", "((b * u.OH + oh) * u.OW + ow) * u.OC / 4u + k4", ins[1])
  };
      }
    }
  }
  ${store("out0", "i", "acc", out)}
}`;
}

/** dx of a convolution: in0 the filter, in1 out_backprop. */
function inputBody(depthwise: boolean, ins: Binding[], out: Binding): string {
  // Output channels of input channel c: all OC (conv2d), or c·M .. c·M + M - 1 (depthwise).
  const count = depthwise ? "u.M" : "u.OC";
  const oc = depthwise ? "c * u.M + k" : "k";
  const wIndex = depthwise ? "t * u.OC + oc" : "(t * u.C + c) * u.OC + oc";
  return `${linearMain(WG)}
  if (i >= u.n) { return; }${PIXEL}
  var acc = 0.0;${
    coveringWindows(`      let t = fh * u.FW + fw;
      let o = ((b * u.OH + oh) * u.OW + ow) * u.OC;
      for (var k = 0u; k < ${count}; k++) {
        let oc = ${oc};
        acc += ${load("in1", "o + oc", ins[1])} * ${load("in0", wIndex, ins[0])};
      }`)
  }
  ${store("out0", "i", "acc", out)}
}`;
}

/** df of a convolution: in0 the input, in1 out_backprop; the output [FH, FW, C, OC or M]. */
function filterBody(depthwise: boolean, ins: Binding[], out: Binding): string {
  const last = depthwise ? "u.M" : "u.OC";
  return `${linearMain(WG)}
  if (i >= u.n) { return; }
  let k = i % ${last};
  var rest = i / ${last};
  let c = rest % u.C;
  rest = rest / u.C;
  let fw = rest % u.FW;
  let fh = rest / u.FW;
  let oc = ${depthwise ? "c * u.M + k" : "k"};
  var acc = 0.0;
  for (var b = 0u; b < u.N; b++) {
    for (var oh = 0u; oh < u.OH; oh++) {
      let ih = i32(oh * u.sh + fh * u.dh) - u.padTop;
      if (ih < 0 || ih >= i32(u.H)) { continue; }
      for (var ow = 0u; ow < u.OW; ow++) {
        let iw = i32(ow * u.sw + fw * u.dw) - u.padLeft;
        if (iw < 0 || iw >= i32(u.W)) { continue; }
        let x = ((b * u.H + u32(ih)) * u.W + u32(iw)) * u.C + c;
        acc += ${load("in0", "x", ins[0])} * ${
    load("in1", "((b * u.OH + oh) * u.OW + ow) * u.OC + oc", ins[1])
  };
      }
    }
  }
  ${store("out0", "i", "acc", out)}
}`;
}

/** MaxPoolGrad: in0 the pool's input, in1 its output (unread), in2 the gradient. */
function maxPoolBody(ins: Binding[], out: Binding): string {
  const x = (index: string) => load("in0", index, ins[0]);
  return `${linearMain(WG)}
  if (i >= u.n) { return; }${PIXEL}
  var acc = 0.0;${
    coveringWindows(`      // The window's first maximum, over its real taps in row-major order.
      let h0 = i32(oh * u.sh) - u.padTop;
      let w0 = i32(ow * u.sw) - u.padLeft;
      var best = -1;
      var bestV = 0.0;
      for (var qh = max(h0, 0); qh < min(h0 + i32(u.FH), i32(u.H)); qh++) {
        for (var qw = max(w0, 0); qw < min(w0 + i32(u.FW), i32(u.W)); qw++) {
          let j = ((i32(b) * i32(u.H) + qh) * i32(u.W) + qw) * i32(u.C) + i32(c);
          let v = ${x("u32(j)")};
          if (best < 0 || (!is_nan(v) && !is_nan(bestV) && v > bestV)) {
            best = j;
            bestV = v;
          }
        }
      }
      if (best == i32(i)) {
        acc += ${load("in2", "((b * u.OH + oh) * u.OW + ow) * u.C + c", ins[2])};
      }`)
  }
  ${store("out0", "i", "acc", out)}
}`;
}

/** AvgPoolGrad: in0 the gradient. */
function avgPoolBody(ins: Binding[], out: Binding): string {
  return `${linearMain(WG)}
  if (i >= u.n) { return; }${PIXEL}
  var acc = 0.0;${
    coveringWindows(`      let h0 = i32(oh * u.sh) - u.padTop;
      let w0 = i32(ow * u.sw) - u.padLeft;
      let rows = min(h0 + i32(u.FH), i32(u.H)) - max(h0, 0);
      let cols = min(w0 + i32(u.FW), i32(u.W)) - max(w0, 0);
      acc += ${load("in0", "((b * u.OH + oh) * u.OW + ow) * u.C + c", ins[0])} / f32(rows * cols);`)
  }
  ${store("out0", "i", "acc", out)}
}`;
}

/**
 * Whether a backward convolution runs four out channels at a time: conv2d, 4 | OC, float32
 * bindings (16-bit stores round per element).
 */
export function gradVec4(
  kind: WindowGradKind,
  depthwise: boolean,
  outChannels: number,
  bindings: readonly Binding[],
): boolean {
  return (kind === "input" || kind === "filter") && !depthwise && outChannels > 0 &&
    outChannels % 4 === 0 && bindings.every((b) => b.type === "f32" && b.dtype === "float32");
}

/** The program of a backward window op (`vec4`: see gradVec4). */
export function windowGradProgram(
  kind: WindowGradKind,
  depthwise: boolean,
  ins: Binding[],
  out: Binding,
  vec4 = false,
): Program {
  if (vec4) {
    const v = (b: Binding) => ({ ...b, vec4: true });
    const bound = kind === "input" ? [v(ins[0]), v(ins[1])] : [ins[0], v(ins[1])];
    const o = kind === "input" ? out : v(out);
    return program({
      name: `grad.window.${kind}`,
      key: [depthwise, true],
      inputs: bound,
      outputs: [o],
      uniforms: UNIFORMS,
      body: () => (kind === "input" ? inputBodyVec4(bound, o) : filterBodyVec4(bound, o)),
    });
  }
  return program({
    name: `grad.window.${kind}`,
    key: [depthwise, false],
    inputs: ins,
    outputs: [out],
    uniforms: UNIFORMS,
    body: () =>
      kind === "input"
        ? inputBody(depthwise, ins, out)
        : kind === "filter"
        ? filterBody(depthwise, ins, out)
        : kind === "maxpool"
        ? maxPoolBody(ins, out)
        : avgPoolBody(ins, out),
  });
}
