// WASM kernels on shapes past the equivalence suite's small draws, where the blocked paths run:
// GEMM tiles and KC blocks with edges, im2col packing, SIMD channel blocks, long rows cut into
// parts, thread splits. Each case is compared with the op's reference within the kernel's own
// tolerance, and must give the same bits on 1 and 2 threads.
import assert from "node:assert/strict";
import "../mod.ts";
import { defaultRegistry, type Kernel } from "../core/kernel.ts";
import type { DType } from "../core/dtype.ts";
import type { Attrs, OpCase } from "../core/op.ts";
import { getOp } from "../core/ops/registry.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";
import { Tensor } from "../core/tensor.ts";
import { wasmPlugin } from "../kernels_wasm/plugin.ts";
import { mismatch } from "./kernels/compare.ts";
import { resolvedAttrs, runOnDevice, runReference } from "./kernels/run_case.ts";

const one = await wasmPlugin.create({ threads: 1 });
const two = await wasmPlugin.create({ threads: 2 });
// The devices serve every test of the file; their workers are unref'd, so the process could exit
// without this, but disposing them says they are done.
globalThis.addEventListener("unload", () => {
  one![Symbol.asyncDispose]();
  two![Symbol.asyncDispose]();
});

const f32 = (shape: number[], seed: number, range = {}) =>
  randomTensor("float32", shape, seed, range);
/** `t` with its first element +Inf and its last -Inf. */
function withInf(t: Tensor): Tensor {
  const data = Float32Array.from(t.data as Float32Array);
  data[0] = Infinity;
  data[data.length - 1] = -Infinity;
  return new Tensor("float32", t.shape, data);
}
/** `t` with a NaN every 37 elements. */
function withNaN(t: Tensor): Tensor {
  const data = Float32Array.from(t.data as Float32Array);
  for (let i = 5; i < data.length; i += 37) data[i] = NaN;
  return new Tensor("float32", t.shape, data);
}
const scalar = (v: number) => new Tensor("int32", [], Int32Array.from([v]));
const i32 = (values: number[]) => new Tensor("int32", [values.length], Int32Array.from(values));

interface Case {
  op: string;
  inputs: Tensor[];
  attrs?: Attrs;
}

const conv = (strides: number, padding: string, dilations = 1) => ({
  strides: [1, strides, strides, 1],
  padding,
  dilations: [1, dilations, dilations, 1],
});

const CASES: Case[] = [
  // GEMM: tile edges (m, n not multiples of 6 and 8), k across KC blocks of 256, transposes.
  { op: "MatMul", inputs: [f32([97, 300], 1), f32([300, 45], 2)] },
  { op: "MatMul", inputs: [f32([257, 7], 3), f32([7, 129], 4)] },
  {
    op: "MatMul",
    inputs: [f32([64, 200], 5), f32([70, 64], 6)],
    attrs: { transpose_a: true, transpose_b: true },
  },
  { op: "MatMul", inputs: [f32([1, 513], 7), f32([513, 1], 8)] },
  // B read in place (rows 129 floats apart), and packed where its rows would share L1 sets
  // (1024 floats apart) for more than 96 rows of A.
  { op: "MatMul", inputs: [f32([99, 40], 117), f32([40, 1024], 118)] },
  { op: "BatchMatMulV2", inputs: [f32([3, 1, 20, 30], 9), f32([4, 30, 17], 10)] },
  {
    op: "BatchMatMulV2",
    inputs: [f32([5, 31, 12], 11), f32([12, 9], 12)],
    attrs: { adj_x: false, adj_y: false },
  },
  // Conv2D: im2col while packing (channel runs of 16 and 3), strides, dilation, the 1x1 path.
  {
    op: "Conv2D",
    inputs: [f32([2, 17, 19, 16], 13), f32([3, 3, 16, 24], 14)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2D",
    inputs: [f32([1, 30, 30, 3], 15), f32([3, 3, 3, 32], 16)],
    attrs: conv(2, "SAME"),
  },
  {
    op: "Conv2D",
    inputs: [f32([1, 15, 14, 5], 17), f32([3, 2, 5, 7], 18)],
    attrs: conv(1, "VALID", 2),
  },
  // Conv2D with few channels reads A from the image (gemm_direct.c) where a tile's windows lie
  // inside it and packs the others: tiles across rows and images, pads on every side, n not a
  // multiple of 8, filter rows of 7 and 24 floats, a dilated height.
  {
    op: "Conv2D",
    inputs: [f32([2, 13, 17, 3], 37), f32([3, 5, 3, 10], 38)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2D",
    inputs: [f32([1, 40, 40, 1], 39), f32([7, 7, 1, 9], 40)],
    attrs: conv(2, "SAME"),
  },
  {
    op: "Conv2D",
    inputs: [f32([1, 20, 23, 8], 41), f32([3, 3, 8, 16], 42)],
    attrs: { strides: [1, 2, 1, 1], padding: "VALID", dilations: [1, 2, 1, 1] },
  },
  {
    op: "Conv2D",
    inputs: [f32([2, 9, 9, 20], 19), f32([1, 1, 20, 13], 20)],
    attrs: conv(1, "VALID"),
  },
  // Depthwise: 16-channel SIMD blocks, a 4-wide remainder, a scalar tail, multiplier 2.
  {
    op: "DepthwiseConv2dNative",
    inputs: [f32([1, 20, 21, 37], 21), f32([3, 3, 37, 1], 22)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "DepthwiseConv2dNative",
    inputs: [f32([2, 11, 9, 6], 23), f32([3, 3, 6, 2], 24)],
    attrs: conv(2, "SAME"),
  },
  // Depthwise rows cut into channel blocks (few rows, many channels: a 7x7 layer), border
  // pixels in SIMD with their taps inside the image, 8-, 4- and 1-channel steps per block,
  // strides, a dilated 5x5 window wider than the image's interior, and the fused epilogue on
  // each block.
  {
    op: "DepthwiseConv2dNative",
    inputs: [f32([1, 7, 7, 204], 91), f32([3, 3, 204, 1], 92)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "DepthwiseConv2dNative",
    inputs: [f32([1, 14, 14, 21], 93), f32([3, 3, 21, 1], 94)],
    attrs: conv(2, "SAME"),
  },
  {
    op: "DepthwiseConv2dNative",
    inputs: [f32([2, 6, 9, 44], 95), f32([5, 5, 44, 1], 96)],
    attrs: conv(1, "SAME", 2),
  },
  {
    op: "DepthwiseConv2dNative",
    inputs: [f32([1, 3, 13, 16], 97), f32([3, 3, 16, 1], 98)],
    attrs: {
      strides: [1, 1, 1, 1],
      padding: "EXPLICIT",
      explicit_paddings: [0, 0, 2, 1, 3, 0, 0, 0],
    },
  },
  {
    op: "FusedDepthwiseConv2dNative",
    inputs: [f32([1, 7, 7, 136], 99), f32([3, 3, 136, 1], 100), f32([136], 101)],
    attrs: { ...conv(1, "SAME"), fused_ops: ["BiasAdd", "Relu6"], num_args: 1 },
  },
  {
    op: "FusedDepthwiseConv2dNative",
    inputs: [
      withNaN(f32([1, 9, 8, 21], 119, { min: -4, max: 4 })),
      f32([3, 3, 21, 1], 120),
      f32([21], 121),
    ],
    attrs: { ...conv(2, "SAME"), fused_ops: ["BiasAdd", "Relu"], num_args: 1 },
  },
  // The micro-kernel's own epilogue (bias, then Relu or Relu6, as it stores a final tile): A read
  // in place with a packed last panel (77 rows), a partial last column panel (44, 21 columns),
  // k across KC blocks, NaN kept by Relu; a transposed B (packed) and a direct convolution (the
  // block epilogue).
  {
    op: "_FusedConv2D",
    inputs: [
      withNaN(f32([1, 7, 11, 20], 102, { min: -8, max: 8 })),
      f32([1, 1, 20, 44], 103),
      f32([44], 104),
    ],
    attrs: { ...conv(1, "VALID"), fused_ops: ["BiasAdd", "Relu6"], num_args: 1 },
  },
  {
    op: "_FusedConv2D",
    inputs: [f32([1, 5, 6, 300], 105), f32([1, 1, 300, 24], 106), f32([24], 107)],
    attrs: { ...conv(1, "VALID"), fused_ops: ["BiasAdd", "Relu"], num_args: 1 },
  },
  {
    op: "_FusedConv2D",
    inputs: [f32([1, 12, 13, 3], 108), f32([3, 3, 3, 20], 109), f32([20], 110)],
    attrs: { ...conv(2, "SAME"), fused_ops: ["BiasAdd", "Relu6"], num_args: 1 },
  },
  {
    op: "_FusedMatMul",
    inputs: [withNaN(f32([37, 300], 111)), f32([300, 21], 112), f32([21], 113)],
    attrs: { fused_ops: ["BiasAdd", "Relu"], num_args: 1 },
  },
  {
    op: "_FusedMatMul",
    inputs: [f32([20, 40], 114), f32([19, 40], 115), f32([19], 116)],
    attrs: { transpose_b: true, fused_ops: ["BiasAdd"], num_args: 1 },
  },
  {
    op: "MaxPool",
    inputs: [f32([2, 15, 15, 13], 25)],
    attrs: { ksize: [1, 3, 3, 1], strides: [1, 2, 2, 1], padding: "SAME" },
  },
  {
    op: "AvgPool",
    inputs: [f32([1, 16, 16, 9], 26)],
    attrs: { ksize: [1, 2, 3, 1], strides: [1, 2, 2, 1], padding: "SAME" },
  },
  // The gradient ops: the backward convolutions at the digits CNN's shapes (GEMMs past the
  // thread threshold), strided, dilated and 1x1 ones, a batch whose dcol is cut into groups of
  // images, and pool gradients with overlapping windows.
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([64, 8, 8, 16], 43), i32([3, 3, 16, 32]), f32([64, 8, 8, 32], 44)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([64, 8, 8, 16]), f32([3, 3, 16, 32], 45), f32([64, 8, 8, 32], 46)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([2, 15, 13, 5], 47), i32([3, 2, 5, 7]), f32([2, 7, 6, 7], 48)],
    attrs: { strides: [1, 2, 2, 1], padding: "VALID", dilations: [1, 1, 2, 1] },
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([2, 15, 13, 5]), f32([3, 2, 5, 7], 49), f32([2, 8, 7, 7], 50)],
    attrs: { strides: [1, 2, 2, 1], padding: "SAME", dilations: [1, 1, 1, 1] },
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([8, 64, 64, 16]), f32([3, 3, 16, 8], 51), f32([8, 64, 32, 8], 52)],
    attrs: { ...conv(1, "SAME"), strides: [1, 1, 2, 1] },
  },
  // Stride 1: dx as a forward convolution of dy with the flipped filter (dilated, VALID, and an
  // EXPLICIT padding wider than the filter, which takes the dcol path).
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([2, 15, 13, 5]), f32([3, 2, 5, 7], 68), f32([2, 15, 13, 7], 69)],
    attrs: { strides: [1, 1, 1, 1], padding: "SAME", dilations: [1, 2, 1, 1] },
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([3, 12, 11, 9]), f32([3, 3, 9, 4], 70), f32([3, 10, 9, 4], 71)],
    attrs: conv(1, "VALID"),
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([1, 6, 7, 3]), f32([2, 2, 3, 5], 72), f32([1, 10, 9, 5], 73)],
    attrs: {
      strides: [1, 1, 1, 1],
      padding: "EXPLICIT",
      explicit_paddings: [0, 0, 3, 2, 1, 2, 0, 0],
    },
  },
  // A filter with ±Inf takes the dcol path: padded taps are never visited, as TensorFlow's
  // col2im (the transposed convolution would multiply dy's padding zeros by Inf).
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([2, 6, 7, 3]), withInf(f32([3, 3, 3, 4], 78)), f32([2, 6, 7, 4], 79)],
    attrs: conv(1, "SAME"),
  },
  // Few input channels: the filter gradient's direct task (the digits CNN's first layer).
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([64, 8, 8, 1], 74), i32([3, 3, 1, 16]), f32([64, 8, 8, 16], 75)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([3, 13, 11, 3], 76), i32([3, 3, 3, 10]), f32([3, 7, 6, 10], 77)],
    attrs: conv(2, "SAME"),
  },
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([3, 9, 9, 20], 53), i32([1, 1, 20, 13]), f32([3, 9, 9, 13], 54)],
    attrs: conv(1, "VALID"),
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([3, 9, 9, 20]), f32([1, 1, 20, 13], 55), f32([3, 9, 9, 13], 56)],
    attrs: conv(1, "VALID"),
  },
  {
    op: "DepthwiseConv2dNativeBackpropInput",
    inputs: [i32([2, 11, 9, 6]), f32([3, 3, 6, 2], 57), f32([2, 6, 5, 12], 58)],
    attrs: conv(2, "SAME"),
  },
  {
    op: "DepthwiseConv2dNativeBackpropFilter",
    inputs: [f32([2, 11, 9, 6], 59), i32([3, 3, 6, 2]), f32([2, 6, 5, 12], 60)],
    attrs: conv(2, "SAME"),
  },
  {
    op: "MaxPoolGrad",
    inputs: [
      f32([2, 15, 15, 13], 25),
      f32([2, 8, 8, 13], 61), // orig_output is only checked for its shape
      f32([2, 8, 8, 13], 62),
    ],
    attrs: { ksize: [1, 3, 3, 1], strides: [1, 2, 2, 1], padding: "SAME" },
  },
  {
    op: "AvgPoolGrad",
    inputs: [i32([1, 16, 16, 9]), f32([1, 8, 8, 9], 63)],
    attrs: { ksize: [1, 2, 3, 1], strides: [1, 2, 2, 1], padding: "SAME" },
  },
  // Empty dims: no images or no rows, so no pixels (df all zeros, dx empty).
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([0, 5, 5, 3], 80), i32([3, 3, 3, 4]), f32([0, 5, 5, 4], 81)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2DBackpropFilter",
    inputs: [f32([2, 0, 5, 1], 86), i32([3, 3, 1, 4]), f32([2, 0, 5, 4], 87)],
    attrs: conv(1, "SAME"),
  },
  {
    op: "Conv2DBackpropInput",
    inputs: [i32([2, 0, 5, 3]), f32([3, 3, 3, 4], 82), f32([2, 0, 5, 4], 83)],
    attrs: conv(1, "SAME"),
  },
  { op: "BiasAddGrad", inputs: [f32([0, 7], 88)] },
  { op: "BiasAddGrad", inputs: [f32([64, 8, 8, 32], 64)] },
  { op: "BiasAddGrad", inputs: [f32([6, 5, 40, 7], 65)], attrs: { data_format: "NCHW" } },
  { op: "ReluGrad", inputs: [f32([100003], 66), f32([100003], 67)] },
  // Scans: a long axis of single columns, and rows wider than a task's 256 columns.
  { op: "Cumsum", inputs: [f32([3, 7000], 89), scalar(1)] },
  {
    op: "Cumprod",
    inputs: [f32([5, 4, 300], 90, { min: 0.5, max: 1.5 }), scalar(-2)],
    attrs: { exclusive: true, reverse: true },
  },
  // Rows long enough to be cut into parts, and column reductions.
  { op: "Sum", inputs: [f32([70000], 27), i32([0])] },
  { op: "Mean", inputs: [f32([3, 40000], 28), i32([1])] },
  { op: "Max", inputs: [f32([300, 70], 29), i32([0])] },
  { op: "Sum", inputs: [f32([6, 50, 7], 30), i32([0, 2])] },
  { op: "Softmax", inputs: [f32([37, 1000], 31)] },
  { op: "LogSoftmax", inputs: [f32([5, 333], 32)] },
  { op: "Exp", inputs: [f32([100003], 33, { min: -90, max: 90 })] },
  { op: "AddV2", inputs: [f32([300, 1, 70], 34), f32([40, 1], 35)] },
  { op: "Transpose", inputs: [f32([30, 20, 10], 36), i32([2, 0, 1])] },
];

function bytes(t: Tensor): Uint8Array {
  const data = t.data as ArrayBufferView;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function toleranceOf(kernel: Kernel, c: OpCase<Attrs>, attrs: Attrs) {
  const t = kernel.tolerance;
  return typeof t === "function" ? t({ inputs: c.inputs, attrs }) : t;
}

for (const k of CASES) {
  const shapes = k.inputs.map((t) => `[${t.shape}]`).join(" ");
  Deno.test(`WASM ${k.op} ${shapes}: reference, and equal bits on 1 and 2 threads`, async () => {
    const op = getOp(k.op);
    const c: OpCase<Attrs> = { inputs: k.inputs, attrs: k.attrs ?? {} };
    const attrs = resolvedAttrs(op, c);
    // The kernel of the op's type attr (a backward convolution's first input is int32 sizes).
    const dtype = (op.typeAttr ? attrs[op.typeAttr] : undefined) ?? k.inputs[0].dtype;
    const kernel = defaultRegistry.find(op.name, "WASM", dtype as DType)!;
    const expected = runReference(op, c).outputs;
    const a = (await runOnDevice(one!, defaultRegistry, op, c)).outputs;
    const b = (await runOnDevice(two!, defaultRegistry, op, c)).outputs;
    expected.forEach((e, i) => {
      const why = mismatch(a[i], e, toleranceOf(kernel, c, attrs));
      assert.equal(why, undefined, `output ${i}: ${why}`);
      assert.deepEqual(bytes(b[i]), bytes(a[i]), `output ${i} differs between 1 and 2 threads`);
    });
  });
}
