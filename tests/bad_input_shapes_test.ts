// Run-time shapes that do not fit an op are refused on every device with the op's own message:
// a graph built with unknown dims defers BiasAdd's and FusedBatchNormV3's channel checks to the
// run, where REF used to read the bias modulo its length and the batch norm's scales past their end.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const DEVICES = ["REF", "WASM", "TPU"];

async function refusedEverywhere(
  g: ef.Graph,
  fetch: ef.Output,
  feeds: Record<string, ef.Tensor>,
  pattern: RegExp,
) {
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    await assert.rejects(() => s.run(fetch, feeds), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, `${device}: ${e}`);
      assert.equal(e.node, fetch.node.name, `${device}: ${e.message}`);
      assert.match(e.message, pattern, device);
      return true;
    });
  }
}

const f32 = (shape: number[]) =>
  new ef.Tensor("float32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1));

Deno.test("biasAdd of [2, 3] with a bias of [4] is refused on every device", async () => {
  const g = new ef.Graph();
  const value = ef.placeholder(g, "float32", [null, null], { name: "value" });
  const bias = ef.placeholder(g, "float32", [null], { name: "bias" });
  const y = ef.biasAdd(value, bias, { name: "biased" });
  await refusedEverywhere(g, y, { value: f32([2, 3]), bias: f32([4]) }, /expected 3 elements/);
  await using s = new ef.Session(g, { device: "REF" });
  assert.deepEqual((await s.run(y, { value: f32([2, 3]), bias: f32([3]) })).toArray(), [
    [2, 2, 2],
    [2, 2, 2],
  ]);
});

Deno.test("FusedBatchNormV3 with 2 scales for 3 channels is refused on every device", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, null, null, null], { name: "x" });
  const scale = ef.placeholder(g, "float32", [null], { name: "scale" });
  const [y] = ef.fusedBatchNorm(x, scale, [0, 0, 0], [0, 0, 0], [1, 1, 1], {
    name: "bn",
    is_training: false,
  });
  await refusedEverywhere(
    g,
    y,
    { x: f32([1, 2, 2, 3]), scale: f32([2]) },
    /expected 3 elements .*got a vector of shape \[2\]/,
  );
});

Deno.test("the references refuse mismatched shapes when called directly", () => {
  const ctx = new ef.MapHostContext();
  assert.throws(
    () => ef.BiasAdd.reference([f32([2, 3]), f32([4])], { T: "float32", data_format: "NHWC" }, ctx),
    /expected 3 elements/,
  );
});
