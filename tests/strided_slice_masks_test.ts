// StridedSlice mask combinations on every device, against TensorFlow's ValidateStridedSliceOp
// (tensorflow/core/util/strided_slice_op.cc): only the bits of the n given entries count, an
// ellipsis bit wins over new-axis and shrink bits of the same entry, and without an ellipsis
// among the n entries one is implied after them. Output shapes are checked as well as values.
import assert from "node:assert/strict";
import type { DeviceType } from "../core/device_spec.ts";
import { defaultRegistry } from "../core/kernel.ts";
import { type StridedSliceMasks } from "../core/ops/slice_spec.ts";
import { StridedSlice } from "../core/ops/slice.ts";
import { numbers, Tensor } from "../core/tensor.ts";
import "../mod.ts";
import { deviceFor } from "./kernels/devices.ts";
import { runOnDevice } from "./kernels/run_case.ts";

const DEVICES: DeviceType[] = ["REF", "WASM", "TPU", "WEBGPU"];
const NO_MASKS: StridedSliceMasks = {
  begin_mask: 0,
  end_mask: 0,
  ellipsis_mask: 0,
  new_axis_mask: 0,
  shrink_axis_mask: 0,
};

/** [0, 1, ..., n-1] as a float32 tensor of `shape`. */
function iota(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers("float32", shape, Array.from({ length: n }, (_, i) => i));
}
const ints = (v: number[]) => new Tensor("int32", [v.length], Int32Array.from(v));

interface MaskCase {
  name: string;
  x: Tensor;
  begin: number[];
  end: number[];
  strides: number[];
  masks: Partial<StridedSliceMasks>;
  shape: number[];
  values: number[];
}

const X = iota([5, 4, 2]);
const CASES: MaskCase[] = [
  {
    // The fuzzer's case: mask bits with no entries to refer to are ignored, so x[] is x.
    name: "mask bits past the entries are ignored (no entries at all)",
    x: X,
    begin: [],
    end: [],
    strides: [],
    masks: { end_mask: 1, ellipsis_mask: 1, new_axis_mask: 1, shrink_axis_mask: 1 },
    shape: [5, 4, 2],
    values: Array.from({ length: 40 }, (_, i) => i),
  },
  {
    // Bit 1 of ellipsis_mask has no entry 1: it is x[1] with the implicit trailing ellipsis.
    name: "an ellipsis bit past the entries is no ellipsis",
    x: iota([2, 3]),
    begin: [1],
    end: [2],
    strides: [1],
    masks: { ellipsis_mask: 2, shrink_axis_mask: 1 },
    shape: [3],
    values: [3, 4, 5],
  },
  {
    // x[..., None, 1]: the new axis after the ellipsis does not consume an input dim.
    name: "ellipsis, new axis and index",
    x: iota([2, 3]),
    begin: [0, 0, 1],
    end: [0, 0, 2],
    strides: [1, 1, 1],
    masks: { ellipsis_mask: 1, new_axis_mask: 2, shrink_axis_mask: 4 },
    shape: [2, 1],
    values: [1, 4],
  },
  {
    // x[None, ..., -1]: a new axis before the ellipsis, a negative index after it.
    name: "new axis, ellipsis and negative index",
    x: iota([2, 3]),
    begin: [0, 0, -1],
    end: [0, 0, 0],
    strides: [1, 1, 1],
    masks: { new_axis_mask: 1, ellipsis_mask: 2, shrink_axis_mask: 4 },
    shape: [1, 2],
    values: [2, 5],
  },
  {
    // An entry with both the ellipsis and the new-axis and shrink bits is the ellipsis: x[...].
    name: "the ellipsis bit wins over new-axis and shrink bits",
    x: iota([2, 3]),
    begin: [0],
    end: [0],
    strides: [1],
    masks: { ellipsis_mask: 1, new_axis_mask: 1, shrink_axis_mask: 1 },
    shape: [2, 3],
    values: [0, 1, 2, 3, 4, 5],
  },
];

for (const type of DEVICES) {
  for (const c of CASES) {
    Deno.test(`${type}: StridedSlice ${c.name}`, async (t) => {
      const device = await deviceFor(type, t);
      if (!device) return;
      const { outputs } = await runOnDevice(device, defaultRegistry, StridedSlice, {
        inputs: [c.x, ints(c.begin), ints(c.end), ints(c.strides)],
        attrs: { ...NO_MASKS, ...c.masks },
      });
      assert.deepEqual(outputs[0].shape, c.shape);
      assert.deepEqual(Array.from(numbers(outputs[0])), c.values);
    });
  }
}
