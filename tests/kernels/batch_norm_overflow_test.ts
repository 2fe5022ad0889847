// FusedBatchNormV3 inference where a float32 partial passes float32's range while the float64
// reference stays finite. TensorFlow's CPU kernel computes scale·rsqrt(variance + ε) first, so
// x = mean with scale 3.4e38 gives 0·Inf = NaN there, where the reference's 0/√(variance + ε)·scale
// is 0 (the fuzzer's counterexample, seed 771877216); WebGPU divides (x - mean) by the root first,
// which overflows for 1e38/0.1. Every device's answer must be within its kernel's tolerance, which
// admits an overflowed output exactly in such cases, and not where nothing can overflow.
import assert from "node:assert/strict";
import { defaultRegistry, FLOAT32_MAX, type Kernel } from "../../core/kernel.ts";
import type { DeviceType } from "../../core/device_spec.ts";
import type { Attrs, OpCase } from "../../core/op.ts";
import { FusedBatchNormV3 } from "../../core/ops/nn.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import "../../mod.ts";
import { mismatch } from "./compare.ts";
import { deviceFor } from "./devices.ts";
import { resolvedAttrs, runOnDevice, runReference } from "./run_case.ts";

const v = (x: number) => tensor([x], [1], "float32");
function inference(x: number, scale: number, mean: number, variance: number, epsilon: number) {
  return {
    inputs: [tensor([x], [1, 1, 1, 1], "float32"), v(scale), v(0), v(mean), v(variance)],
    attrs: { epsilon, data_format: "NHWC", is_training: false, exponential_avg_factor: 1 },
  } as OpCase<Attrs>;
}

const CASES = {
  "scale·rsqrt past float32 at x = mean": inference(0, 3.4e38, 0, 0, 0.2),
  "(x - mean)/√(variance + ε) past float32": inference(1e38, 1e-10, 0, 0, 0.01),
};
const ORDINARY = inference(1.5, 2, 0.5, 4, 0.001);

const kernelOf = (type: DeviceType): Kernel =>
  defaultRegistry.list().find((k) => k.type === type && k.kernel.op === FusedBatchNormV3)!.kernel;
const toleranceOf = (kernel: Kernel, c: OpCase<Attrs>) => {
  const kc = { inputs: c.inputs, attrs: resolvedAttrs(FusedBatchNormV3, c) };
  return typeof kernel.tolerance === "function" ? kernel.tolerance(kc) : kernel.tolerance;
};

for (const type of ["REF", "WASM", "TPU", "WEBGPU"] as const) {
  Deno.test(`${type} FusedBatchNormV3 inference: overflowed partials within the kernel's tolerance`, async (t) => {
    const device = await deviceFor(type, t);
    if (!device) return;
    const kernel = kernelOf(type);
    for (const [name, c] of Object.entries(CASES)) {
      const expected = runReference(FusedBatchNormV3, c).outputs[0];
      assert.ok(Number.isFinite((expected.data as Float32Array)[0]), name);
      const actual: Tensor = (await runOnDevice(device, defaultRegistry, FusedBatchNormV3, c)).outputs[0];
      const tol = toleranceOf(kernel, c);
      assert.equal(mismatch(actual, expected, tol), undefined, `${name}: ${actual.toArray()}`);
      // TensorFlow's own answer (NaN or Inf) is within it wherever the device computes in float32.
      if (type === "TPU" || type === "WEBGPU") {
        assert.ok((tol?.atol ?? 0) >= FLOAT32_MAX, name);
        const nan = tensor([NaN], [1, 1, 1, 1], "float32");
        assert.equal(mismatch(nan, expected, tol), undefined, name);
      }
    }
    // Nothing can overflow here: a NaN would be a wrong answer.
    const tol = toleranceOf(kernel, ORDINARY);
    assert.ok((tol?.atol ?? 0) < FLOAT32_MAX);
    const expected = runReference(FusedBatchNormV3, ORDINARY).outputs[0];
    assert.notEqual(mismatch(tensor([NaN], [1, 1, 1, 1], "float32"), expected, tol), undefined);
  });
}
