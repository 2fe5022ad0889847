// A training run fed by a queue pipeline (examples/train_queue.ts): the producer's runs and the
// training runs share one session concurrently; every example enqueued is trained on except the
// last short batch, and the model learns.
import assert from "node:assert/strict";
import { trainFromQueue } from "../examples/train_queue.ts";

Deno.test("training fed by a RandomShuffleQueue drains the pipeline and learns", async () => {
  const r = await trainFromQueue({ epochs: 2 });
  assert.equal(r.steps, Math.floor(r.enqueued / 32), "every full batch was trained on");
  assert.ok(r.lastLoss < r.firstLoss / 3, `loss ${r.firstLoss} → ${r.lastLoss}`);
  assert.ok(r.testAccuracy > 0.85, `test accuracy ${r.testAccuracy}`);
});
