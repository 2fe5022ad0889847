// The shaderF16 option: float16 tensors stored as native f16 (where the adapter has the feature),
// computing in f32 as without it, so results match the reference within float16 rounding.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { reportMissing } from "../kernels/devices.ts";
import { NO_ADAPTER, values, withDevice } from "./util.ts";

Deno.test("shaderF16 stores float16 natively and matches the reference", async (t) => {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return reportMissing(t, NO_ADAPTER);
  if (!adapter.features.has("shader-f16")) {
    // Asked for without the feature, the option fails loudly instead of falling back.
    await assert.rejects(ef.webgpuPlugin.create({ shaderF16: true }), /shader-f16/);
    console.log(`  ${t.name}: the adapter lacks shader-f16; checked the refusal only`);
    return;
  }
  await withDevice(t, { shaderF16: true }, async (device) => {
    assert.equal(device.nativeF16, true);
    const g = new ef.Graph();
    const half = (shape: number[], seed: number) =>
      ef.cast(
        ef.constant(ef.tensor(values(shape.reduce((a, b) => a * b), seed), shape), { graph: g }),
        "float16",
      );
    const h = ef.relu(ef.add(ef.matMul(half([9, 12], 1), half([12, 7], 2)), half([7], 3)));
    const y = ef.softmax(ef.sum(ef.reshape(h, [9, 7, 1]), [2]));
    const passes = { constantFolding: false };
    await using gpu = new ef.Session(g, { devices: [device], passes });
    await using ref = new ef.Session(g, { device: "REF", passes });
    const [a, b] = [await gpu.run(y), await ref.run(y)];
    assert.equal(a.dtype, "float16");
    const av = a.toNumbers(), bv = b.toNumbers();
    av.forEach((v, i) =>
      assert.ok(
        Math.abs(v - bv[i]) <= 2e-3 * Math.max(1, Math.abs(bv[i])),
        `${i}: ${v} vs ${bv[i]}`,
      )
    );
  });
});
