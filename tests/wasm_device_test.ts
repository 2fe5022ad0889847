// The WASM device itself: threads, memory growth, views, in-place variable updates, errors from
// kernels, and clean shutdown. Kernel values are the equivalence suite's job (tests/kernels/).
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { wasmPlugin } from "../kernels_wasm/plugin.ts";
import type { WasmDevice } from "../devices/wasm/device.ts";

async function withDevice<T>(options: Record<string, unknown>, fn: (d: WasmDevice) => Promise<T>) {
  const d = (await wasmPlugin.create(options))!;
  try {
    return await fn(d);
  } finally {
    await d[Symbol.asyncDispose]();
  }
}

Deno.test("threads default to hardwareConcurrency and follow the option", async () => {
  await withDevice({}, (d) => {
    assert.equal(d.threads, navigator.hardwareConcurrency);
    return Promise.resolve();
  });
  for (const threads of [1, 3]) {
    await withDevice({ threads }, (d) => Promise.resolve(assert.equal(d.threads, threads)));
  }
});

Deno.test("memory grows past its start, keeping what it holds", async () => {
  await withDevice({ threads: 2 }, async (d) => {
    const small = ef.tensor([1.5, -2, 3]);
    const a = d.upload(small);
    const before = d.u8.buffer.byteLength;
    // 64 MiB more than the memory starts with: the views must follow the growth.
    const big = d.upload(new ef.Tensor("float32", [1 << 24], new Float32Array(1 << 24).fill(7)));
    assert.ok(d.u8.buffer.byteLength > before);
    assert.deepEqual((await d.download(a)).toArray(), [1.5, -2, 3]);
    const back = await d.download(big);
    assert.equal((back.data as Float32Array)[(1 << 24) - 1], 7);
    d.free(a);
    d.free(big);
    assert.equal(d.memory().inUse, 0);
  });
});

Deno.test("freed blocks are reused and peak use is reported", async () => {
  await withDevice({ threads: 1 }, (d) => {
    const a = d.allocate({ dtype: "float32", shape: [1000] });
    const ptr = a.ptr;
    d.free(a);
    const b = d.allocate({ dtype: "float32", shape: [990] });
    assert.equal(b.ptr, ptr, "a block of the same size class comes back");
    const c = d.allocate({ dtype: "float32", shape: [1000] });
    assert.ok(d.memory().peak >= 2 * 4000);
    const heap = d.allocatorStats().heap;
    d.free(b);
    d.free(c);
    assert.equal(d.memory().inUse, 0);
    // Freed blocks stay in the free list, or lower the heap's top when they were at it.
    const after = d.allocatorStats();
    assert.ok(after.cached + heap - after.heap >= 2 * 4000);
    return Promise.resolve();
  });
});

Deno.test("Reshape is a view: no copy, freed once", async () => {
  await withDevice({ threads: 1 }, async (d) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [2, 3], { name: "x" });
    const y = ef.reshape(x, [3, 2]);
    const z = ef.neg(ef.reshape(y, [6]));
    await using s = new ef.Session(g, { devices: [d] });
    const [ry, rz] = await s.run([y, z], { x: [[1, 2, 3], [4, 5, 6]] });
    assert.deepEqual(ry.toArray(), [[1, 2], [3, 4], [5, 6]]);
    assert.deepEqual(rz.toArray(), [-1, -2, -3, -4, -5, -6]);
    assert.equal(d.memory().inUse, 0);
  });
});

/** A linear regression step built by hand: w -= lr * 2/n * x^T (x w - y), lr = 0.01. */
function regression(g: ef.Graph) {
  const x = ef.placeholder(g, "float32", [8, 4], { name: "x" });
  const y = ef.placeholder(g, "float32", [8, 1], { name: "y" });
  const w = new ef.Variable(new ef.Tensor("float32", [4, 1], new Float32Array(4)), {
    graph: g,
    name: "w",
  });
  const err = ef.sub(ef.matMul(x, w.read()), y);
  const loss = ef.mean(ef.square(err), [0, 1]);
  const grad = ef.mul(
    ef.matMul(x, err, { transpose_a: true }),
    ef.constant(0.01 * 2 / 8, { graph: g }),
  );
  const step = g.addNode(ef.AssignSubVariableOp, [w.handle, grad], { dtype: "float32" });
  return { x, y, w, loss, step };
}

Deno.test("a training step updates variables in place and moves no weights", async () => {
  await withDevice({ threads: 2 }, async (d) => {
    const g = new ef.Graph();
    const { x, y, w, loss, step } = regression(g);
    await using s = new ef.Session(g, { devices: [d] });
    await s.run([], {}, [w.initializer]);
    const xs = ef.tensor(Array.from({ length: 8 }, (_, i) => [1, i, i % 3, (i * 7) % 5]));
    const ys = ef.tensor(Array.from({ length: 8 }, (_, i) => [2 + 0.5 * i]));
    const feeds = [[x, xs], [y, ys]] as [ef.Output, ef.Tensor][];
    const firstLoss = (await s.run([loss], feeds, [step]))[0].toNumbers()[0];
    // The second run keeps the (stateful) plan's Consts in WASM memory: steady state from here on.
    await s.run([loss], feeds, [step]);
    const before = { ...d.transfers }, inUse = d.memory().inUse;
    // Count the [4, 1] buffers a step allocates: the gradient's two, and no new value for w.
    const allocate = d.allocate.bind(d);
    let weightSized = 0;
    d.allocate = (spec) => {
      if (spec.shape.join() === "4,1") weightSized++;
      return allocate(spec);
    };
    let last = firstLoss;
    for (let i = 0; i < 20; i++) last = (await s.run([loss], feeds, [step]))[0].toNumbers()[0];
    assert.ok(last < firstLoss, `the loss falls (${firstLoss} → ${last})`);
    assert.equal(weightSized, 20 * 2, "AssignSubVariableOp updates w in place");
    assert.equal(d.memory().inUse, inUse, "a step leaves nothing allocated");
    // Per step: the two feeds go up, the loss comes down. Never w, nor the learning rate (a
    // Const, placed in WASM memory once per plan).
    const up = d.transfers.uploadBytes - before.uploadBytes;
    const down = d.transfers.downloadBytes - before.downloadBytes;
    assert.equal(up, 20 * (8 * 4 * 4 + 8 * 4));
    assert.equal(down, 20 * 4);
  });
});

Deno.test("kernel errors name the node and op, before any out-of-range access", async () => {
  await withDevice({ threads: 2 }, async (d) => {
    const g = new ef.Graph();
    const p = ef.placeholder(g, "float32", [3, 2], { name: "params" });
    const i = ef.placeholder(g, "int32", [2], { name: "i" });
    const gathered = ef.gather(p, i, 0, { name: "lookup" });
    const a = ef.placeholder(g, "int32", [2], { name: "a" });
    const q = ef.floorDiv(a, i, { name: "q" });
    await using s = new ef.Session(g, { devices: [d] });
    const params = ef.tensor([[1, 2], [3, 4], [5, 6]]);
    await assert.rejects(
      s.run(gathered, { params, i: ef.tensor([0, 7], undefined, "int32") }),
      /node 'lookup' \(GatherV2\): indices\[1\] = 7 is not in \[0, 3\)/,
    );
    await assert.rejects(
      s.run(q, {
        a: ef.tensor([1, 2], undefined, "int32"),
        i: ef.tensor([1, 0], undefined, "int32"),
      }),
      /node 'q' \(FloorDiv\): integer division by zero/,
    );
    assert.equal(d.memory().inUse, 0, "a failed run frees what it allocated");
  });
});

Deno.test("a session that created the device closes it; unclosed devices let the process exit", async () => {
  const g = new ef.Graph();
  const y = ef.neg(ef.placeholder(g, "float32", [2], { name: "x" }));
  const s = new ef.Session(g);
  assert.deepEqual((await s.run(y, { x: [1, 2] })).toArray(), [-1, -2]);
  const d = (await s.device("WASM")) as WasmDevice;
  await s.close();
  assert.throws(() => d.allocate({ dtype: "float32", shape: [1] }), /closed/);
  // This file's other devices are disposed; the equivalence suite's shared one never is, and the
  // test process still exits because the pool's workers are unref'd.
});
