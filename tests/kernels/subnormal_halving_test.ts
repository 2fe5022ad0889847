// SqrtGrad and RsqrtGrad halve dy first; a subnormal dy loses up to 2^-150 there, which the rest
// of the program scales by 1/y (SqrtGrad) or y³ (RsqrtGrad): SqrtGrad of y = dy = 6e-40 is
// 0.5000012 in float32 where the float64 reference gives 0.5 (the fuzzer's counterexample, seed
// 480138941). Every device's answer must be within its kernel's tolerance, which bounds that
// loss (core/subnormal_halving.ts), and the bound must stay tight where dy is normal.
import assert from "node:assert/strict";
import { defaultRegistry, type Kernel } from "../../core/kernel.ts";
import type { Attrs, OpCase, OpDef } from "../../core/op.ts";
import { RsqrtGrad, SqrtGrad } from "../../core/ops/grad_math.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import "../../mod.ts";
import { mismatch } from "./compare.ts";
import { deviceFor } from "./devices.ts";
import { resolvedAttrs, runOnDevice, runReference } from "./run_case.ts";

const f = Math.fround;
const tiny = f(f(9.99994610111476e-41) * f(6.02)); // the counterexample's y = dy, subnormal
const pair = (y: number[], dy: number[]): OpCase<Attrs> => ({
  inputs: [tensor(y.map(f), [y.length], "float32"), tensor(dy.map(f), [dy.length], "float32")],
  attrs: {},
});
const CASES: [OpDef, OpCase<Attrs>][] = [
  [SqrtGrad, pair([tiny, 3e-39, 1e-20], [tiny, 1e-40, 7e-42])],
  [RsqrtGrad, pair([1e12, 2, 5e5], [1e-40, 3e-41, tiny])],
];

const toleranceOf = (kernel: Kernel, op: OpDef, c: OpCase<Attrs>) => {
  const kc = { inputs: c.inputs, attrs: resolvedAttrs(op, c) };
  return typeof kernel.tolerance === "function" ? kernel.tolerance(kc) : kernel.tolerance;
};

for (const type of ["REF", "WASM", "TPU", "WEBGPU"] as const) {
  Deno.test(`${type} SqrtGrad and RsqrtGrad of a subnormal dy: within the kernel's tolerance`, async (t) => {
    const device = await deviceFor(type, t);
    if (!device) return;
    for (const [op, c] of CASES) {
      const kernel = defaultRegistry.list().find((k) => k.type === type && k.kernel.op === op)!
        .kernel;
      const expected = runReference(op, c).outputs[0];
      const actual: Tensor = (await runOnDevice(device, defaultRegistry, op, c)).outputs[0];
      const tol = toleranceOf(kernel, op, c);
      assert.equal(mismatch(actual, expected, tol), undefined, `${op.name}: ${actual.toArray()}`);
      // Normal dy: the bound is the usual one (nothing to add for the halving).
      const normal = pair([0.25, 3], [1, 2]);
      const t2 = toleranceOf(kernel, op, normal);
      assert.ok((t2?.atol ?? 0) <= 2 ** -126, `${op.name}: atol ${t2?.atol}`);
    }
  });
}
