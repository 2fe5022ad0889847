// ef.train and ef.layers: optimizer updates against TensorFlow's formulas written out in float64,
// slot names and what the Saver saves, the global step, decay schedules, clipping by global norm,
// layer variables and initializers, dropout's switch and batch normalization's moving statistics.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { reportMissing } from "./kernels/devices.ts";

const near = (a: number, b: number, tol = 1e-5) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} vs ${b}`);

/** w = [1, -2], loss = sum(w^2)/2 so grad = w; runs `steps` steps of `opt` on REF and WASM. */
async function quadratic(
  make: () => ef.train.Optimizer,
  steps: number,
  device: string,
  readEachStep = false,
) {
  const g = new ef.Graph();
  const w = new ef.Variable([1, -2], { graph: g, name: "w", dtype: "float32" });
  const loss = ef.mul(ef.sum(ef.square(w.read()), [0]), 0.5);
  const step = ef.train.getOrCreateGlobalStep(g);
  const opt = make();
  const train = opt.minimize(loss, { globalStep: step });
  await using s = new ef.Session(g, { device });
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  // A read fetched in the same run holds the old value: the update must not write it in place.
  const held = w.read();
  for (let i = 0; i < steps; i++) await s.run(readEachStep ? [held] : [], {}, [train]);
  const [wv, sv] = await s.run([w.read(), step.read()]);
  return { w: Array.from(wv.toNumbers()), step: Number(sv.toNumbers()[0]), opt, graph: g };
}

/** The same steps in float64 with TensorFlow's formulas; grad = w. */
function expected(kind: string, steps: number): number[] {
  return [1, -2].map((w0) => {
    let w = w0, a = 0, b = 0, b1p = 0.9, b2p = 0.999;
    if (kind === "rmsprop") a = 1;
    if (kind === "adagrad") a = 0.1;
    for (let i = 0; i < steps; i++) {
      const gr = w;
      if (kind === "sgd") w -= 0.1 * gr;
      if (kind === "momentum") {
        a = a * 0.9 + gr;
        w -= 0.1 * a;
      }
      if (kind === "nesterov") {
        a = a * 0.9 + gr;
        w -= gr * 0.1 + a * 0.9 * 0.1;
      }
      if (kind === "adam") {
        const alpha = 0.01 * Math.sqrt(1 - b2p) / (1 - b1p);
        a += (gr - a) * 0.1;
        b += (gr * gr - b) * 0.001;
        w -= a * alpha / (Math.sqrt(b) + 1e-8);
        b1p *= 0.9;
        b2p *= 0.999;
      }
      if (kind === "rmsprop") {
        a += (gr * gr - a) * 0.1;
        b = b * 0.5 + gr * 0.01 / Math.sqrt(a + 1e-10);
        w -= b;
      }
      if (kind === "adagrad") {
        a += gr * gr;
        w -= gr * 0.1 / Math.sqrt(a);
      }
    }
    return w;
  });
}

const OPTIMIZERS: Record<string, () => ef.train.Optimizer> = {
  sgd: () => new ef.train.GradientDescentOptimizer(0.1),
  momentum: () => new ef.train.MomentumOptimizer(0.1, 0.9),
  nesterov: () => new ef.train.MomentumOptimizer(0.1, 0.9, { useNesterov: true }),
  adam: () => new ef.train.AdamOptimizer(0.01),
  rmsprop: () => new ef.train.RMSPropOptimizer(0.01, { momentum: 0.5 }),
  adagrad: () => new ef.train.AdagradOptimizer(0.1),
};

for (const [kind, make] of Object.entries(OPTIMIZERS)) {
  for (const device of ["REF", "WASM"]) {
    Deno.test(`${kind} on ${device} follows TensorFlow's update for 5 steps`, async () => {
      const r = await quadratic(make, 5, device);
      expected(kind, 5).forEach((e, i) => near(r.w[i], e));
      assert.equal(r.step, 5);
    });
  }
}

for (const device of ["WASM", "TPU", "WEBGPU"]) {
  Deno.test(`optimizers on ${device} with the variable read in the same run`, async (t) => {
    if (device === "WEBGPU" && !(await navigator.gpu?.requestAdapter())) {
      return reportMissing(t, "no WebGPU adapter");
    }
    for (const kind of ["momentum", "adam", "rmsprop", "adagrad"]) {
      const r = await quadratic(OPTIMIZERS[kind], 3, device, true);
      expected(kind, 3).forEach((e, i) => near(r.w[i], e));
    }
  });
}

Deno.test("Adam's slots and beta powers are named as TensorFlow names them and saved", async () => {
  const { opt, graph } = await quadratic(OPTIMIZERS.adam, 1, "WASM");
  const names = graph.getCollection<ef.Variable>(ef.VARIABLES).map((v) => v.name).sort();
  assert.deepEqual(names, ["beta1_power", "beta2_power", "global_step", "w", "w/Adam", "w/Adam_1"]);
  assert.deepEqual(opt.getSlotNames(), ["m", "v"]);
  const w = graph.getCollection<ef.Variable>(ef.VARIABLES).find((v) => v.name === "w")!;
  assert.equal(opt.getSlot(w, "m")!.name, "w/Adam");
  // The saver saves every one of them.
  const dir = await Deno.makeTempDir({ prefix: "edgeflow-optim-" });
  try {
    await using s = new ef.Session(graph);
    await s.run([], {}, [ef.globalVariablesInitializer(graph)]);
    const path = await new ef.train.Saver().save(s, dir, { step: 1 });
    const manifest = JSON.parse(await Deno.readTextFile(`${path}.json`));
    const saved = manifest.tensors.map((t: { name: string }) => t.name).sort();
    assert.deepEqual(saved, names);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("minimize without a gradient for any variable is an EdgeflowError", () => {
  const g = new ef.Graph();
  const v = new ef.Variable([1], { graph: g, name: "v", dtype: "float32" });
  new ef.Variable([1], { graph: g, name: "u", dtype: "float32" });
  const loss = ef.sum(ef.stopGradient(v.read()), [0]);
  assert.throws(
    () => new ef.train.GradientDescentOptimizer(0.1).minimize(loss),
    (e) => e instanceof ef.EdgeflowError && /no gradients provided/.test(e.message),
  );
});

Deno.test("an optimizer op refuses a gradient of another shape, naming the node", async () => {
  const g = new ef.Graph();
  const v = new ef.Variable([1, 2], { graph: g, name: "v", dtype: "float32" });
  const grad = ef.placeholder(g, "float32", null, { name: "grad" });
  const op = ef.resourceApply(ef.ResourceApplyGradientDescent, {
    var: v.handle,
    alpha: ef.constant(0.1, { graph: g }),
    delta: grad,
  });
  for (const device of ["REF", "WASM"]) {
    await using s = new ef.Session(g, { device });
    await s.run([], {}, [v.initializer]);
    await assert.rejects(
      () => s.run([], { grad: [1, 2, 3] }, [op]),
      (e) =>
        e instanceof ef.EdgeflowError && e.op === "ResourceApplyGradientDescent" &&
        /var and delta do not have the same shape: \[2\] \[3\]/.test(e.message),
    );
  }
});

Deno.test("decay schedules follow TensorFlow's formulas at fed steps", async () => {
  const g = new ef.Graph();
  const step = ef.placeholder(g, "float32", [], { name: "step" });
  const t = ef.train;
  const exp = t.exponentialDecay(0.1, step, 10, 0.5);
  const stair = t.exponentialDecay(0.1, step, 10, 0.5, { staircase: true });
  const pw = t.piecewiseConstant(step, [5, 10], [1, 0.5, 0.1]);
  const poly = t.polynomialDecay(0.1, step, 10, { endLearningRate: 0.01, power: 2 });
  const cosd = t.cosineDecay(0.1, step, 10, { alpha: 0.1 });
  await using s = new ef.Session(g);
  for (const k of [0, 5, 7, 10, 15]) {
    const [a, b, c, d, e] = (await s.run([exp, stair, pw, poly, cosd], { step: k })).map((x) =>
      x.toNumbers()[0]
    );
    near(a, 0.1 * 0.5 ** (k / 10));
    near(b, 0.1 * 0.5 ** Math.floor(k / 10));
    near(c, k <= 5 ? 1 : k <= 10 ? 0.5 : 0.1);
    near(d, 0.09 * (1 - Math.min(k, 10) / 10) ** 2 + 0.01);
    near(e, 0.1 * (0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(k, 10) / 10)) + 0.1));
  }
});

Deno.test("clipByGlobalNorm scales every tensor by clip / max(norm, clip)", async () => {
  const g = new ef.Graph();
  const a = ef.constant([3, 0], { graph: g }), b = ef.constant([[4]], { graph: g });
  const [[ca, cb, none], norm] = ef.train.clipByGlobalNorm([a, b, null], 2.5);
  assert.equal(none, null);
  const [n, va, vb] = await new ef.Session(g).run([norm, ca!, cb!]);
  near(n.toNumbers()[0], 5);
  assert.deepEqual(Array.from(va.toNumbers()), [1.5, 0]);
  assert.deepEqual(Array.from(vb.toNumbers()), [2]);
});

Deno.test("layers name their variables as tf.layers and initializers are seeded", async () => {
  const g = new ef.Graph();
  g.seed = 7;
  const x = ef.placeholder(g, "float32", [null, 6, 6, 2], { name: "x" });
  let h = ef.layers.conv2d(x, 4, 3, { padding: "SAME", activation: ef.relu });
  h = ef.layers.depthwiseConv2d(h, 3, { depthMultiplier: 2 });
  h = ef.layers.avgPool(ef.layers.maxPool(h, 2, { padding: "SAME" }), 1);
  const y = ef.layers.dense(ef.layers.flatten(h), 3, {
    kernelInitializer: ef.layers.heNormal(),
  });
  assert.deepEqual(y.shape, [-1, 3]);
  const vars = g.getCollection<ef.Variable>(ef.VARIABLES);
  assert.deepEqual(vars.map((v) => `${v.name} [${v.shape}]`), [
    "conv2d/kernel [3,3,2,4]",
    "conv2d/bias [4]",
    "depthwise_conv2d/depthwise_kernel [3,3,4,2]",
    "depthwise_conv2d/bias [8]",
    "dense/kernel [32,3]",
    "dense/bias [3]",
  ]);
  const read = async () => {
    await using s = new ef.Session(g);
    await s.run([], {}, [ef.globalVariablesInitializer(g)]);
    return (await s.run(vars.map((v) => v.read()))).map((t) => Array.from(t.toNumbers()));
  };
  const [first, second] = [await read(), await read()];
  assert.deepEqual(first, second, "the same graph seed gives the same weights");
  const limit = Math.sqrt(6 / (18 + 36));
  assert.ok(first[0].every((v) => Math.abs(v) <= limit) && first[0].some((v) => v !== 0));
  assert.ok(first[1].every((v) => v === 0));
  // He normal: truncated at two (corrected) standard deviations of sqrt(2 / 32).
  const bound = 2 * Math.sqrt(2 / 32) / 0.87962566103423978;
  assert.ok(first[4].every((v) => Math.abs(v) <= bound));
});

Deno.test("dropout: a bool switch decides per run; inverted scaling keeps the mean", async () => {
  const g = new ef.Graph();
  g.seed = 3;
  const training = ef.placeholderWithDefault(false, [], { graph: g, name: "training" });
  const x = ef.fill(ef.constant([4000], { graph: g, dtype: "int32" }), 1);
  const y = ef.layers.dropout(x, 0.25, { training });
  assert.equal(ef.layers.dropout(x, 0.25), x, "training false at build time is the identity");
  await using s = new ef.Session(g);
  const off = Array.from((await s.run(y)).toNumbers());
  assert.ok(off.every((v) => v === 1));
  const on = Array.from((await s.run(y, { training: true })).toNumbers());
  const kept = on.filter((v) => v !== 0);
  assert.ok(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6));
  near(kept.length / on.length, 0.75, 0.05);
});

Deno.test("batchNormalization normalizes by batch moments and moves its statistics", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 2], { name: "x" });
  const training = ef.placeholderWithDefault(true, [], { graph: g, name: "training" });
  const y = ef.layers.batchNormalization(x, { training, momentum: 0.5, epsilon: 0 });
  const updates = ef.layers.updateOps(g);
  assert.equal(updates.length, 2);
  await using s = new ef.Session(g);
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  const feed = { x: [[1, 10], [3, 30]] };
  const [out] = await s.run([y], feed, updates);
  assert.deepEqual(Array.from(out.toNumbers()).map((v) => Math.round(v * 1e4) / 1e4), [
    -1,
    -1,
    1,
    1,
  ]);
  const vars = g.getCollection<ef.Variable>(ef.VARIABLES);
  const byName = (n: string) => vars.find((v) => v.name === `batch_normalization/${n}`)!;
  const [mm, mv] = await s.run([byName("moving_mean").read(), byName("moving_variance").read()]);
  assert.deepEqual(Array.from(mm.toNumbers()), [1, 10]); // 0 + (2 - 0)·0.5, 0 + (20 - 0)·0.5
  assert.deepEqual(Array.from(mv.toNumbers()), [1, 50.5]); // 1 + (1 - 1)·0.5, 1 + (100 - 1)·0.5
  // Inference uses the moving statistics.
  const inf = await s.run(y, { ...feed, training: false });
  near(inf.toNumbers()[0], 0);
});
