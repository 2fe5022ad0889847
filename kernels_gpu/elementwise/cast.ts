/**
 * Cast as an elementwise map, with core's castTensor semantics: floats to integers truncate,
 * NaN and ±Inf become 0, and values beyond int32 wrap modulo 2^32 (WGSL's own conversion
 * saturates instead); integers wrap to 8 bits and bool is x != 0 on store; Truncate zeroes the
 * mantissa bits a narrower float cannot hold before the rounding store. int64 results live in
 * the GPU's int32 storage (storage.ts), so casts producing int64 values beyond int32 differ.
 */
import type { DType } from "../../core/dtype.ts";
import { isFloat } from "../../core/dtype.ts";
import type { KernelCase } from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { Cast } from "../../core/ops/cast.ts";
import { numbers } from "../../core/tensor.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel, staticBinding } from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { mapDispatch, type MapFunction, predictMap } from "./map.ts";

const F2I = `
fn f2i(x: f32) -> i32 {
  if (is_nan(x) || abs(x) == bitcast<f32>(F32_INF)) { return 0; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0) { return i32(t); }
  return bitcast<i32>(u32(t - 4294967296.0 * floor(t / 4294967296.0)));
}`;

const MANTISSA: Partial<Record<DType, number>> = { float32: 23, float16: 10, bfloat16: 7 };

function castFunction(src: DType, dst: DType, truncate: boolean): MapFunction {
  const from = computeType(src), to = computeType(dst);
  let body: string;
  // NaN is true (NaN != 0), tested on the bits: WGSL may fold a comparison with NaN either way.
  if (dst === "bool") {
    body = from === "f32"
      ? "select(0, 1, (bitcast<u32>(x) & 0x7fffffffu) != 0u)"
      : "select(0, 1, x != 0)";
  } else if (from === "f32" && to === "i32") body = "f2i(x)";
  else if (from === "i32" && to === "f32") body = "f32(x)";
  else body = "x";
  const cut = truncate && isFloat(src) && isFloat(dst) && MANTISSA[dst]! < MANTISSA[src]!;
  if (cut) {
    const mask = (~((1 << (23 - MANTISSA[dst]!)) - 1)) >>> 0;
    body = `bitcast<f32>(bitcast<u32>(x) & 0x${mask.toString(16)}u)`;
  }
  return {
    name: `Cast.${from}.${to}.${dst === "bool"}.${cut ? MANTISSA[dst] : 0}`,
    wgsl: `${F2I}\nfn f(x: ${from}) -> ${
      to === "f32" && dst !== "bool" ? "f32" : "i32"
    } { return ${body}; }`,
  };
}

function int64Overflow<A extends Attrs>(c: KernelCase<A>): boolean {
  if (c.attrs.DstT !== "int64" || c.inputs[0].dtype === "int64") return false;
  return Array.from(numbers(c.inputs[0])).some((v) => Math.abs(Math.trunc(v)) >= 2 ** 31);
}

export const castKernel = defineGpuKernel(Cast, {
  dtypes: GPU_DTYPES,
  run(ctx) {
    const x = ctx.inputs[0] as GpuBuffer;
    const out = ctx.output(0) as GpuBuffer;
    const f = castFunction(x.dtype, out.dtype, ctx.attrs.Truncate);
    return ctx.device.encode(ctx.node, [mapDispatch(ctx.device, f, [x], out)]);
  },
  programs(node, device) {
    const [x] = node.inputs, out = node.outputs[0];
    const f = castFunction(x.dtype, out.dtype, node.attrs.Truncate);
    const p = predictMap(
      f,
      [x.shape],
      out.shape,
      [staticBinding(device, x)],
      staticBinding(device, out),
    );
    return p ? [p] : [];
  },
  differs: [{
    reason: "int64 results beyond int32: the GPU holds int64 in int32 storage (WGSL has no i64)",
    when: int64Overflow,
  }],
});
