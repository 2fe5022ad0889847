import assert from "node:assert/strict";
import { estimateSeconds, transferSeconds, workOf } from "../core/cost_model.ts";
import * as ef from "../mod.ts";

Deno.test("cost model: elementwise default, kernel cost, device speeds", () => {
  const add = ef.refPlugin.kernels.find((k) => k.op.name === "AddV2")!;
  const spec = { dtype: "float32" as const, shape: [1000] };
  const work = workOf(add, [spec, spec], [spec], { T: "float32" });
  assert.deepEqual(work, { flops: 1000, bytes: 12000 });
  const perf = { flops: 1e9, bandwidth: 1e9, transfer: 1e8, launch: 1e-6 };
  assert.equal(estimateSeconds(perf, work), 1e-6 + 12000 / 1e9);
  assert.equal(transferSeconds(perf, 1e8), 1);
  const custom = { ...add, cost: () => ({ flops: 5e9, bytes: 0 }) };
  assert.equal(estimateSeconds(perf, workOf(custom, [spec], [spec], {})), 1e-6 + 5);
});
