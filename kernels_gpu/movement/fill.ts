/**
 * Tensors made on the GPU: Fill broadcasts its scalar value, ZerosLike and OnesLike write
 * constants, Range computes start + i·delta in the dtype's arithmetic (core's rangeElement: each
 * step rounded for 16-bit floats), and SelectV2 picks by a broadcast condition. All are
 * elementwise maps (elementwise/map.ts) but Range, which needs the element's index.
 */
import type { DType } from "../../core/dtype.ts";
import { intVector } from "../../core/ops/array_util.ts";
import { EdgeflowError } from "../../core/errors.ts";
import { Fill, OnesLike, Range, rangeSize, rangeSize64, ZerosLike } from "../../core/ops/fill.ts";
import { SelectV2 } from "../../core/ops/select.ts";
import { numberAt, type Tensor } from "../../core/tensor.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { type MapFunction, NodeMap } from "../elementwise/map.ts";
import { bindingFor, defineGpuKernel, staticBinding } from "../kernel.ts";
import {
  type Binding,
  computeType,
  linearGrid,
  linearMain,
  program,
  rounded,
  store,
} from "../wgsl.ts";

const pass = (dtype: DType): MapFunction => {
  const t = computeType(dtype);
  return { name: `Fill.${t}`, wgsl: `fn f(x: ${t}) -> ${t} { return x; }` };
};
const constant = (dtype: DType, value: 0 | 1): MapFunction => {
  const t = computeType(dtype);
  return { name: `Const${value}.${t}`, wgsl: `fn f() -> ${t} { return ${t}(${value}); }` };
};

export const fillKernel = defineGpuKernel(Fill, {
  dtypes: GPU_DTYPES,
  create({ inputs: [, value], outputs: [out], device }) {
    const map = new NodeMap(
      pass(value.dtype),
      [value.shape],
      out.shape,
      [staticBinding(device, value)],
      staticBinding(device, out),
    );
    return {
      programs: map.programs,
      run(ctx) {
        const out = ctx.output(0, intVector(ctx.hostInput(0), "dims"));
        return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [ctx.inputs[1]], out)]);
      },
    };
  },
});

function likeKernel(op: typeof ZerosLike, value: 0 | 1) {
  return defineGpuKernel(op, {
    dtypes: GPU_DTYPES,
    create({ outputs: [out], device }) {
      const map = new NodeMap(
        constant(out.dtype, value),
        [],
        out.shape,
        [],
        staticBinding(device, out),
      );
      return {
        programs: map.programs,
        run(ctx) {
          return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [], ctx.output(0))]);
        },
      };
    },
  });
}

const WG = 256;

function rangeProgram(out: Binding): Program {
  const t = computeType(out.dtype);
  const r = (x: string) => rounded(x, out.dtype);
  const value = t === "i32"
    ? "u.start + i32(i) * u.delta"
    : r(`u.start + ${r(`${r("f32(i)")} * u.delta`)}`);
  return program({
    name: "Range",
    key: [],
    inputs: [],
    outputs: [out],
    uniforms: [{ name: "n", type: "u32" }, { name: "start", type: t }, { name: "delta", type: t }],
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  ${store("out0", "i", value, out)}
}
`,
  });
}

/**
 * The GPU holds int64 in int32 storage (devices/webgpu/storage.ts), so an int64 Range whose
 * elements leave int32 is refused, as an upload of such values is, instead of wrapping in the
 * shader. The elements lie between the first and the last, which are computed exactly.
 */
function refuseBeyondInt32(args: readonly Tensor[]): void {
  const [start, limit, delta] = args.map((t) => (t.data as BigInt64Array)[0]);
  const n = rangeSize64(start, limit, delta);
  if (n === 0) return;
  for (const v of [start, start + BigInt(n - 1) * delta]) {
    if (v !== BigInt.asIntN(32, v)) {
      throw new EdgeflowError(
        `int64 value ${v} does not fit the WebGPU device's int32 storage (WGSL has no i64)`,
      );
    }
  }
}

export const rangeKernel = defineGpuKernel(Range, {
  dtypes: ["float32", "float16", "bfloat16", "int32", "int64", "int8"],
  create({ attrs, device }) {
    const p = rangeProgram(bindingFor(device, attrs.Tidx));
    return {
      programs: [p],
      run(ctx) {
        const args = [0, 1, 2].map((i) => ctx.hostInput(i));
        if (attrs.Tidx === "int64") refuseBeyondInt32(args);
        const [start, limit, delta] = args.map((t) => numberAt(t, 0));
        const n = rangeSize(start, limit, delta, attrs.Tidx);
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [],
          outputs: [ctx.output(0, [n])],
          uniforms: [n, start, delta],
          workgroups: linearGrid(n, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
});

const choose = (dtype: DType): MapFunction => {
  const t = computeType(dtype);
  return {
    name: `SelectV2.${t}`,
    wgsl: `fn f(c: i32, a: ${t}, b: ${t}) -> ${t} { return select(b, a, c != 0); }`,
  };
};

export const selectKernel = defineGpuKernel(SelectV2, {
  dtypes: GPU_DTYPES,
  create({ inputs, outputs: [out], device }) {
    const map = new NodeMap(
      choose(out.dtype),
      inputs.map((o) => o.shape),
      out.shape,
      inputs.map((o) => staticBinding(device, o)),
      staticBinding(device, out),
    );
    return {
      programs: map.programs,
      run(ctx) {
        return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, ctx.inputs, ctx.output(0))]);
      },
    };
  },
});

export const FILL_KERNELS = [
  fillKernel,
  likeKernel(ZerosLike, 0),
  likeKernel(OnesLike, 1),
  rangeKernel,
  selectKernel,
];
