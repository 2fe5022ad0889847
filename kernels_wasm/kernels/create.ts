/** Cast, Fill, ZerosLike, OnesLike and Range: kernels that make values rather than move them. */
import { byteSize, type DType, NUMERIC_DTYPES } from "../../core/dtype.ts";
import type { Kernel } from "../../core/kernel.ts";
import { Cast } from "../../core/ops/cast.ts";
import { Fill, OnesLike, Range, rangeTensor, ZerosLike } from "../../core/ops/fill.ts";
import { Tensor } from "../../core/tensor.ts";
import type { WasmBuffer } from "../../devices/wasm/buffer.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";
import { dtypeCode } from "./elementwise.ts";
import { BYTE_DTYPES, sizeOfBuffer, wasmBuffer, wasmKernel } from "./util.ts";

const CHUNK = 1 << 15;

export const castKernel = wasmKernel(Cast, {
  dtypes: NUMERIC_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    if (ctx.attrs.DstT === x.dtype) return ctx.setOutput(0, x);
    const out = wasmBuffer(ctx.output(0));
    const n = sizeOfBuffer(x);
    ctx.device.launch(Task.task_cast, Math.ceil(n / CHUNK), [
      out.ptr,
      x.ptr,
      dtypeCode(x.dtype),
      dtypeCode(ctx.attrs.DstT),
      n,
      CHUNK,
      ctx.attrs.Truncate ? 1 : 0,
    ], n);
  },
});

/** Fills a buffer with copies of an element given as its bytes (little-endian, up to 8). */
export function fillBuffer(d: WasmDevice, out: WasmBuffer, element: Uint8Array): void {
  const words = new Uint32Array(2);
  new Uint8Array(words.buffer).set(element);
  const bytes = sizeOfBuffer(out) * byteSize(out.dtype);
  d.launch(Task.task_fill, Math.ceil(bytes / (1 << 18)), [
    out.ptr,
    bytes,
    byteSize(out.dtype),
    words[0],
    words[1],
  ], bytes / 8);
}

/** The bytes of a scalar tensor's element. */
function elementBytes(t: Tensor): Uint8Array {
  const data = t.data as ArrayBufferView;
  return new Uint8Array(data.buffer, data.byteOffset, byteSize(t.dtype));
}

export const fillKernel = wasmKernel(Fill, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const value = wasmBuffer(ctx.inputs[1]);
    const out = wasmBuffer(ctx.output(0));
    const size = byteSize(value.dtype);
    // The value is on the device: copy its bytes out of the memory rather than downloading.
    fillBuffer(ctx.device, out, ctx.device.u8.slice(value.ptr, value.ptr + size));
  },
});

export const zerosLikeKernel = wasmKernel(ZerosLike, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    fillBuffer(ctx.device, wasmBuffer(ctx.output(0)), new Uint8Array(8));
  },
});

export const onesLikeKernel = wasmKernel(OnesLike, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const one = Tensor.fromNumbers(ctx.attrs.T as DType, [], [1]);
    fillBuffer(ctx.device, wasmBuffer(ctx.output(0)), elementBytes(one));
  },
});

/** Range's length depends on its values, which are on the host: computed there and uploaded. */
export const rangeKernel = wasmKernel(Range, {
  dtypes: ["float32", "int32", "int64", "bfloat16", "float16", "int8"],
  run(ctx) {
    // core's rangeTensor checks the scalars and computes int64 elements in BigInt.
    const values = rangeTensor([0, 1, 2].map((i) => ctx.hostInput(i)), ctx.attrs.Tidx);
    ctx.setOutput(0, ctx.device.upload(values));
  },
});

export const CREATE_KERNELS: readonly Kernel[] = [
  castKernel,
  fillKernel,
  zerosLikeKernel,
  onesLikeKernel,
  rangeKernel,
];
