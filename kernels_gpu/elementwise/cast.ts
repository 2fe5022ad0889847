/**
 * Cast as an elementwise map, with core's castTensor semantics: floats to integers truncate,
 * NaN and ±Inf become 0, and values beyond int32 wrap modulo 2^32 (WGSL's own conversion
 * saturates instead); integers wrap to 8 bits and bool is x != 0 on store; Truncate zeroes the
 * mantissa bits a narrower float cannot hold before the rounding store. int64 results live in
 * the GPU's int32 storage (storage.ts), so a float cast to int64 is checked on the host first and
 * refused where a value lies beyond int32, as an upload of such an int64 value is: the GPU cannot
 * hold the right answer, and the f2i wrap would be a wrong one.
 */
import type { DType } from "../../core/dtype.ts";
import { isFloat } from "../../core/dtype.ts";
import type { KernelCase } from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { EdgeflowError } from "../../core/errors.ts";
import { Cast } from "../../core/ops/cast.ts";
import { numbers, type Tensor } from "../../core/tensor.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel, staticBinding } from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { type MapFunction, NodeMap } from "./map.ts";

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

/** The first value of a float tensor whose int64 cast lies beyond int32, or undefined. */
function beyondInt32(x: Tensor): number | undefined {
  const values = numbers(x);
  for (let i = 0; i < values.length; i++) {
    const t = Math.trunc(values[i]);
    // NaN and ±Inf cast to 0, which fits.
    if (Number.isFinite(t) && (t < -(2 ** 31) || t > 2 ** 31 - 1)) return t;
  }
  return undefined;
}

/** Float sources whose values can lie beyond int32 (float16 stops at 65504). */
const WIDE_FLOATS: readonly DType[] = ["float32", "bfloat16"];

function int64Overflow<A extends Attrs>(c: KernelCase<A>): boolean {
  return c.attrs.DstT === "int64" && WIDE_FLOATS.includes(c.inputs[0].dtype) &&
    beyondInt32(c.inputs[0]) !== undefined;
}

export const castKernel = defineGpuKernel(Cast, {
  dtypes: GPU_DTYPES,
  create({ inputs: [x], outputs: [out], attrs, device }) {
    const map = new NodeMap(
      castFunction(x.dtype, out.dtype, attrs.Truncate),
      [x.shape],
      out.shape,
      [staticBinding(device, x)],
      staticBinding(device, out),
    );
    // Float-to-int64 Casts read their values back first (a wait for the GPU): the values decide
    // whether the int32 storage can hold the result.
    const checked = out.dtype === "int64" && WIDE_FLOATS.includes(x.dtype);
    return {
      programs: map.programs,
      run(ctx) {
        const x = ctx.inputs[0];
        const cast = () => {
          return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [x], ctx.output(0))]);
        };
        if (!checked) return cast();
        return ctx.device.download(x).then((host) => {
          const v = beyondInt32(host);
          if (v !== undefined) {
            throw new EdgeflowError(
              `int64 value ${v} does not fit the WebGPU device's int32 storage (WGSL has no i64)`,
            );
          }
          return cast();
        });
      },
    };
  },
  differs: [{
    reason: "refuses int64 results beyond int32: the GPU holds int64 in int32 storage (WGSL " +
      "has no i64); tests/semantics_edge_test.ts checks the refusal",
    when: int64Overflow,
  }],
});
