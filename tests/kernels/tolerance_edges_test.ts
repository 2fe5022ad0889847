// Cases the graph fuzzer found where a float32 device program and the float64 reference part ways
// by more than a kernel's tolerance said, each now run on every device against that tolerance:
// - FusedBatchNormV3 inference past float32's range (seed 771877216): TensorFlow's CPU kernel
//   computes scale·rsqrt(variance + ε) first, so x = mean with scale 3.4e38 gives 0·Inf = NaN
//   where the reference's 0/√(variance + ε)·scale is 0; WebGPU's (x - mean)/√ first overflows
//   for 1e38/0.1. The tolerance admits an overflowed output there (`batchNormInferencePartial`),
//   and not where nothing can overflow.
// - SqrtGrad and RsqrtGrad of a subnormal dy (seed 480138941): halving it loses up to 2^-150,
//   which 1/y or y³ magnifies (core/subnormal_grad_loss.ts); SqrtGrad of y = dy = 6e-40 is
//   0.5000012 in float32, not 0.5. RsqrtGrad's y³ subnormal (seed 895263625) likewise.
// - FusedBatchNormV3 inference with a subnormal scale·rsqrt and output (seed 88872692).
// - Softmax with a subnormal output (seed 802285869): exp's subnormal result keeps only its
//   spacing, 2^-149, so a relative bound alone fails.
// - A subnormal intermediate that later factors magnify: SigmoidGrad of y = -9.49, dy = 1e-40
//   (seed 974387393; every elementwise gradient program, `subnormalSteps`) and Prod of
//   [1e-40, 8.35, 65504] (seed 1974058977).
// - FusedBatchNormV3 training of a constant channel with an infinite scale (seed 1126716484):
//   the reference's x - mean is exactly 0 and 0·Inf NaN, a float32 mean leaves a residue the
//   device scales to ±Inf; a declared difference, as epsilon 0 already was.
// - SoftmaxCrossEntropyWithLogits whose loss terms pass float32's range (seed 1297234329):
//   -3.4e39 + 2.9e39 is -Inf in the reference, Inf - Inf = NaN in float32, as in TensorFlow's
//   kernel (`crossEntropyPartial`); and labels of 1e30, which scale WGSL's log error (seed
//   620856988).
// - Sums whose partials grow (seeds 393330870, 742641301: BiasAddGrad on GL): a group's float32
//   sum may be off by γ(m - 1)·Σ|x|, which a bound on the case's largest value missed.
import assert from "node:assert/strict";
import type { DeviceType } from "../../core/device_spec.ts";
import { defaultRegistry, FLOAT32_MAX, type Tolerance } from "../../core/kernel.ts";
import type { Attrs, OpCase, OpDef } from "../../core/op.ts";
import { RsqrtGrad, SigmoidGrad, SqrtGrad } from "../../core/ops/grad_math.ts";
import { Mean, Prod, Sum } from "../../core/ops/reduce.ts";
import { BiasAddGrad } from "../../core/ops/grad_nn.ts";
import { FusedBatchNormV3, Softmax } from "../../core/ops/nn.ts";
import { SoftmaxCrossEntropyWithLogits } from "../../core/ops/loss.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import "../../mod.ts";
import { mismatch } from "./compare.ts";
import { deviceFor } from "./devices.ts";
import { resolvedAttrs, runOnDevice, runReference } from "./run_case.ts";

const DEVICES = ["REF", "WASM", "TPU", "WEBGPU"] as const;
const f = Math.fround;
const f32 = (values: number[], shape = [values.length]) => tensor(values.map(f), shape, "float32");

function toleranceOf(type: DeviceType, op: OpDef, c: OpCase<Attrs>): Tolerance | undefined {
  const kernel = defaultRegistry.list().find((k) => k.type === type && k.kernel.op === op)!.kernel;
  const kc = { inputs: c.inputs, attrs: resolvedAttrs(op, c) };
  return typeof kernel.tolerance === "function" ? kernel.tolerance(kc) : kernel.tolerance;
}

/** Runs `c` on the device and checks it against the reference under the kernel's tolerance. */
async function within(t: Deno.TestContext, type: DeviceType, op: OpDef, c: OpCase<Attrs>) {
  const device = await deviceFor(type, t);
  if (!device) return undefined;
  const expected = runReference(op, c).outputs[0];
  const actual: Tensor = (await runOnDevice(device, defaultRegistry, op, c)).outputs[0];
  const tol = toleranceOf(type, op, c);
  assert.equal(mismatch(actual, expected, tol), undefined, `${op.name}: ${actual.toArray()}`);
  return { expected, tol };
}

function inference(
  x: number,
  scale: number,
  mean: number,
  variance: number,
  epsilon: number,
  offset = 0,
) {
  return {
    inputs: [f32([x], [1, 1, 1, 1]), f32([scale]), f32([offset]), f32([mean]), f32([variance])],
    attrs: { epsilon, data_format: "NHWC", is_training: false, exponential_avg_factor: 1 },
  } as OpCase<Attrs>;
}
const NAN = f32([NaN], [1, 1, 1, 1]);

for (const type of DEVICES) {
  Deno.test(`${type} FusedBatchNormV3 inference past float32's range and subnormal: within the tolerance`, async (t) => {
    for (const c of [inference(0, 3.4e38, 0, 0, 0.2), inference(1e38, 1e-10, 0, 0, 0.01)]) {
      const r = await within(t, type, FusedBatchNormV3, c);
      if (!r) return;
      assert.ok(Number.isFinite((r.expected.data as Float32Array)[0]));
      // TensorFlow's own answer (NaN or Inf) is within it wherever the device computes in float32.
      if (type === "TPU" || type === "WEBGPU") {
        assert.ok((r.tol?.atol ?? 0) >= FLOAT32_MAX);
        assert.equal(mismatch(NAN, r.expected, r.tol), undefined);
      }
    }
    // Subnormal scale·rsqrt(variance + ε) and output (seed 88872692): its spacing, not ULPs.
    const tiny = 9.99994610111476e-41;
    await within(t, type, FusedBatchNormV3, inference(-3.92, tiny, tiny, tiny, 0.5, tiny));
    // Nothing can overflow here: a NaN would be a wrong answer.
    const ordinary = inference(1.5, 2, 0.5, 4, 0.001);
    const tol = toleranceOf(type, FusedBatchNormV3, ordinary);
    assert.ok((tol?.atol ?? 0) < FLOAT32_MAX);
    assert.notEqual(
      mismatch(NAN, runReference(FusedBatchNormV3, ordinary).outputs[0], tol),
      undefined,
    );
  });

  Deno.test(`${type} FusedBatchNormV3 training, a constant channel with an infinite scale`, () => {
    const kernel = defaultRegistry.list().find((k) =>
      k.type === type && k.kernel.op === FusedBatchNormV3
    )!.kernel;
    const training = (scale: number) => {
      const inputs = [
        f32([5.45, 5.45, 5.45], [1, 1, 3, 1]),
        f32([scale]),
        f32([1]),
        f32([0]),
        f32([1]),
      ];
      const attrs = { epsilon: 1e30, data_format: "NHWC", is_training: true };
      return { inputs, attrs: resolvedAttrs(FusedBatchNormV3, { inputs, attrs }) };
    };
    const declared = (scale: number) => kernel.differs?.some((d) => d.when(training(scale)));
    // WASM sums in double as the reference (no residue); REF is the reference.
    const residue = type === "TPU" || type === "WEBGPU";
    assert.equal(declared(-Infinity) ?? false, residue);
    assert.equal(declared(2) ?? false, false);
  });

  Deno.test(`${type} SqrtGrad and RsqrtGrad with subnormal partials: within the tolerance`, async (t) => {
    const tiny = f(f(9.99994610111476e-41) * f(6.02)); // the counterexample's y = dy
    const pair = (y: number[], dy: number[]) => ({ inputs: [f32(y), f32(dy)], attrs: {} });
    const cases: [OpDef, OpCase<Attrs>][] = [
      [SqrtGrad, pair([tiny, 3e-39, 1e-20], [tiny, 1e-40, 7e-42])],
      [RsqrtGrad, pair([1e12, 2, 5e5], [1e-40, 3e-41, tiny])],
      // y³ itself subnormal (y = Rsqrt(1e30) = 1e-15, seed 895263625): 1e-45 rounds to 1.4e-45.
      [RsqrtGrad, pair([1e-15, 3e-14], [1e30, 1e20])],
    ];
    for (const [op, c] of cases) {
      if (!(await within(t, type, op, c))) return;
      // Normal dy: nothing to add for the halving.
      const tol = toleranceOf(type, op, pair([0.25, 3], [1, 2]));
      assert.ok((tol?.atol ?? 0) <= 2 ** -126, `${op.name}: atol ${tol?.atol}`);
    }
  });

  Deno.test(`${type} SoftmaxCrossEntropyWithLogits past float32's range and with huge labels: within the tolerance`, async (t) => {
    const c = { inputs: [f32([0, 3.4e38, 0], [1, 3]), f32([-10, 0, 8.65], [1, 3])], attrs: {} };
    const r = await within(t, type, SoftmaxCrossEntropyWithLogits, c);
    if (!r) return;
    // Labels of 1e30 scale log(s)'s error with them (seed 620856988: WGSL's log on GL).
    const big = { inputs: [f32([-10, 0], [1, 2]), f32([0, 1e30], [1, 2])], attrs: {} };
    await within(t, type, SoftmaxCrossEntropyWithLogits, big);
    if (type === "REF" || type === "WASM") return;
    assert.equal(mismatch(f32([NaN]), r.expected, r.tol), undefined);
  });

  Deno.test(`${type} subnormal intermediates magnified later: within the tolerance`, async (t) => {
    const grad = { inputs: [f32([-9.49]), f32([9.99994610111476e-41])], attrs: {} };
    if (!(await within(t, type, SigmoidGrad, grad))) return;
    const prod = {
      inputs: [f32([9.99994610111476e-41, 8.35, 65504]), tensor([0], [1], "int32")],
      attrs: { keep_dims: false },
    };
    await within(t, type, Prod, prod);
  });

  Deno.test(`${type} sums whose partials grow: within the tolerance`, async (t) => {
    // 15 × 7.59 per channel, summed in one run on GL: 113.84998, 3.1e-5 from 113.85.
    const dy = f32(new Array(30).fill(7.59), [5, 3, 2]);
    if (!(await within(t, type, BiasAddGrad, { inputs: [dy], attrs: { data_format: "NHWC" } }))) {
      return;
    }
    const sum = { inputs: [dy, tensor([0, 1], [2], "int32")], attrs: { keep_dims: false } };
    await within(t, type, Sum, sum);
    await within(t, type, Mean, sum);
  });

  Deno.test(`${type} Softmax with subnormal outputs: within the tolerance`, async (t) => {
    // The counterexample's row (REF's SigmoidGrad outputs): it spans ~93, so e^-93 is subnormal.
    const row = [-86.53750610351562, 6.348824501037598, -0.875];
    await within(t, type, Softmax, { inputs: [f32(row)], attrs: {} });
  });
}
