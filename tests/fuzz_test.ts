// The graph fuzzer in CI: random graphs of the core ops with random (often invalid) shapes,
// dtypes, attrs and feeds, run on every device. Each case must end in an EdgeflowError or in
// REF's result within the kernel's tolerance; never another error, a hang (each run is bounded)
// or growing memory. CI runs FUZZ_CASES (2,000) cases with a fixed seed; a local run draws a
// fresh seed (FC_SEED reproduces). `deno task fuzz` runs any number and collects failures.
import assert from "node:assert/strict";
import type { DeviceType } from "../core/device_spec.ts";
import { defaultRegistry } from "../core/kernel.ts";
import "../mod.ts";
import { createDevices, disposeDevices, fuzz } from "./fuzz/driver.ts";
import { reportMissing } from "./kernels/devices.ts";
import { fcParams } from "./op_cases.ts";

const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 2000);
const TYPES: readonly DeviceType[] = ["REF", "WASM", "TPU", "WEBGPU"];
/**
 * WEBGPU (lavapipe in CI) takes far longer per session than the others: it runs one case in 8.
 * The sample is chosen by a hash of the case, so a replay runs the same cases.
 */
const EVERY: Partial<Record<DeviceType, number>> = { WEBGPU: 8 };
/** Resident memory may grow this much after the first tenth of the cases (MiB). */
const RSS_GROWTH_LIMIT = 512;

Deno.test({
  name: "fuzz: random graphs end in an EdgeflowError or REF's result on every device",
  // The devices (WASM workers, the GPU adapter) live for the whole run and are disposed at its
  // end; the sanitizers would see their handles from the first case on.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const { devices, missing } = await createDevices(defaultRegistry, TYPES);
    for (const type of missing) reportMissing(t, `no ${type} device on this machine`);
    const { numRuns, seed } = fcParams(CASES);
    const runSeed = seed ?? ((Date.now() ^ (Math.random() * 2 ** 31)) | 0);
    try {
      const result = await fuzz({
        registry: defaultRegistry,
        devices,
        cases: numRuns,
        seed: runSeed,
        every: EVERY,
      });
      console.log(result.stats.summary(4));
      const { warm, end } = result.rssMiB;
      console.log(
        `  rss ${warm.toFixed(0)} MiB after a tenth of the cases, ${end.toFixed(0)} at the end`,
      );
      const f = result.failure;
      assert.ok(
        !f,
        f &&
          `${f.message}\nrecipe: ${JSON.stringify(f.recipe)}\nreproduce: FC_SEED=${f.seed} ` +
            `deno test -A tests/fuzz_test.ts, or deno task fuzz --seed ${f.seed} --path ${f.path}`,
      );
      assert.ok(
        end - warm < RSS_GROWTH_LIMIT,
        `resident memory grew ${
          (end - warm).toFixed(0)
        } MiB over the run (limit ${RSS_GROWTH_LIMIT})`,
      );
    } finally {
      await disposeDevices(devices);
    }
  },
});
