// Model parallelism: an MLP split layer by layer across two WASM devices, each with its own memory
// and threads, computes what one device computes, trains the same way, and moves only the
// activations between the devices.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import type { WasmDevice } from "../devices/wasm/device.ts";

function mlp(split: boolean) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 16], { name: "x" });
  let h: ef.Output = x;
  const vars: ef.Variable[] = [];
  for (let layer = 0; layer < 4; layer++) {
    const device = split ? `/device:CPU:${layer < 2 ? 0 : 1}` : "";
    h = g.withDevice(device, () =>
      g.withNameScope(`layer${layer}`, () => {
        const w = new ef.Variable(
          ef.tensor(Float32Array.from({ length: 256 }, (_, i) => Math.cos(i * (layer + 1)) / 4), [
            16,
            16,
          ]),
          { graph: g, name: "w" },
        );
        vars.push(w);
        const y = ef.matMul(h, w.read());
        return layer < 3 ? ef.relu(y) : y;
      }));
  }
  const loss = ef.mean(ef.square(h), [0, 1], { name: "loss" });
  const grads = ef.gradients([loss], vars.map((v) => v.handle));
  const train = ef.group(vars.map((v, i) => v.assignSub(ef.mul(grads[i]!, 0.1))));
  return { g, x, h, loss, train, init: ef.globalVariablesInitializer(g) };
}

Deno.test("an MLP split layer by layer over two WASM devices equals the one-device run", async () => {
  const feed = {
    x: Array.from({ length: 8 }, (_, r) => Array.from({ length: 16 }, (_, c) => Math.sin(r + c))),
  };
  const one = mlp(false), two = mlp(true);
  await using s1 = new ef.Session(one.g);
  // Launching from workers, so the two devices' kernels may run at the same time.
  await using s2 = new ef.Session(two.g, {
    deviceCount: { WASM: 2 },
    deviceOptions: { WASM: { threads: 1, launch: "worker" } },
  });
  await s1.run([], {}, [one.init]);
  await s2.run([], {}, [two.init]);
  for (let step = 0; step < 3; step++) {
    const [a, b] = [await s1.run(one.h, feed), await s2.run(two.h, feed)];
    const av = a.toNumbers(), bv = b.toNumbers();
    av.forEach((v, i) =>
      assert.ok(
        Math.abs(v - bv[i]) <= 1e-5 * (1 + Math.abs(v)),
        `step ${step} [${i}]: ${v} vs ${bv[i]}`,
      )
    );
    await s1.run([], feed, [one.train]);
    await s2.run([], feed, [two.train]);
  }
  const ex = await s2.explainPlacement(two.h, ["x"], [], false);
  const devicesOf = (prefix: string) =>
    new Set(
      ex.nodes.filter((r) => r.node.startsWith(prefix)).map((r) => r.device.replace(/^.*:/, "")),
    );
  assert.deepEqual([...devicesOf("layer0/")], ["0"]);
  assert.deepEqual([...devicesOf("layer1/")], ["0"]);
  assert.deepEqual([...devicesOf("layer2/")], ["1"]);
  assert.deepEqual([...devicesOf("layer3/")], ["1"]);
  // One activation crosses (layer 1's output); the weights stay on their devices.
  const d0 = await s2.device("/device:WASM:0") as WasmDevice;
  const d1 = await s2.device("/device:WASM:1") as WasmDevice;
  assert.equal(ex.sends[d0.name], 1);
  const before = d1.transfers.uploadBytes;
  await s2.run(two.h, feed);
  assert.equal(
    d1.transfers.uploadBytes - before,
    8 * 16 * 4,
    "only layer 1's activations reach device 1",
  );
});

Deno.test("a host-memory value crosses devices without a device copy", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 6], { name: "x" });
  // Shape's output lives in host memory; Reshape reads its shape argument there.
  const s = g.withDevice("/device:WASM:0", () => ef.shape(ef.neg(x), { name: "s" }));
  const y = g.withDevice(
    "/device:WASM:1",
    () => ef.reshape(ef.exp(x, { name: "e" }), s, { name: "r" }),
  );
  await using sess = new ef.Session(g, {
    deviceCount: { WASM: 2 },
    deviceOptions: { WASM: { threads: 1 } },
  });
  const feed = { x: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]] };
  await sess.run(y, feed);
  const d1 = await sess.device("/device:WASM:1") as WasmDevice;
  const before = { ...d1.transfers };
  const out = await sess.run(y, feed);
  assert.deepEqual(out.shape, [2, 6]);
  assert.deepEqual(out.toNumbers(), new Array(12).fill(1));
  // Device 1 gets x (48 bytes, fed or from device 0) and no device copy of the shape.
  assert.equal(d1.transfers.uploadBytes - before.uploadBytes, 2 * 6 * 4);
  assert.equal(d1.transfers.uploads - before.uploads, 1);
  const ex = await sess.explainPlacement(y, [], [], false);
  const at = (n: string) => ex.nodes.find((r) => r.node === n)!.device.slice(-6);
  assert.deepEqual([at("s"), at("r")], ["WASM:0", "WASM:1"], "the shape crosses");
});
