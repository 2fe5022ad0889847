// tfjs graph model export: what toGraphModel writes loads in @tensorflow/tfjs-converter (cpu
// backend) and executeAsync gives Edgeflow's outputs; saveGraphModel's directory loads back
// through Edgeflow's loadGraphModel.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { saveGraphModel, toGraphModel } from "../../formats.ts";

function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const constant = (shape: number[], seed: number) =>
  ef.constant(new ef.Tensor("float32", shape, values(shape.reduce((a, b) => a * b, 1), seed)));

/** A conv net with pooling and a dense head: [1, 10, 10, 3] → softmax over 5 classes. */
function convNet(): ef.Graph {
  const g = new ef.Graph();
  g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [null, 10, 10, 3], { name: "x" });
    const c = ef.relu(ef.biasAdd(
      ef.conv2d(x, constant([3, 3, 3, 6], 1), { strides: [1, 1, 1, 1], padding: "SAME" }),
      constant([6], 2),
    ));
    const p = ef.maxPool(c, { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" });
    const d = ef.relu6(
      ef.depthwiseConv2d(p, constant([3, 3, 6, 1], 3), { strides: [1, 1, 1, 1], padding: "SAME" }),
    );
    const a = ef.avgPool(d, { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "SAME" });
    const flat = ef.reshape(a, [-1, 3 * 3 * 6]);
    const h = ef.add(ef.matMul(flat, constant([54, 5], 4)), constant([5], 5));
    ef.softmax(h, { name: "probs" });
  });
  return g;
}

const X = new ef.Tensor("float32", [2, 10, 10, 3], values(600, 9));

async function edgeflowRun(graph: ef.Graph, input = "x:0", output = "probs:0") {
  await using s = new ef.Session(graph);
  return await s.run(output, { [input]: X });
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

Deno.test("tfjs export: loadGraphModel + executeAsync give Edgeflow's outputs", async () => {
  const tf = await import("npm:@tensorflow/tfjs-core@4");
  await import("npm:@tensorflow/tfjs-backend-cpu@4");
  const tfconv = await import("npm:@tensorflow/tfjs-converter@4");
  await tf.setBackend("cpu");
  const graph = convNet();
  const want = await edgeflowRun(graph);
  const files = toGraphModel(graph, { outputs: ["probs:0"] });
  const json = JSON.parse(new TextDecoder().decode(files["model.json"]));
  const shard = files[json.weightsManifest[0].paths[0]];
  const handler = {
    load: () =>
      Promise.resolve({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: shard.slice().buffer,
        format: json.format,
        signature: json.signature,
      }),
  };
  const model = await tfconv.loadGraphModel(handler as never);
  const x = tf.tensor(X.data as Float32Array, X.shape as number[]);
  const y = await model.executeAsync({ x }, "probs") as {
    shape: number[];
    data(): Promise<Float32Array>;
  };
  assert.deepEqual(y.shape, want.shape);
  assertClose(await y.data(), want.data as Float32Array);
});

Deno.test("tfjs export: saveGraphModel's directory loads back in Edgeflow", async () => {
  const graph = convNet();
  const dir = await Deno.makeTempDir();
  try {
    await saveGraphModel(graph, dir, { outputs: ["probs:0"] });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["group1-shard1of1.bin", "model.json"]);
    const model = await ef.loadGraphModel(`${dir}/model.json`);
    assert.deepEqual(model.outputs.map((o) => o.name), ["probs:0"]);
    const back = await edgeflowRun(model.graph, model.inputs[0].name, model.outputs[0].name);
    assertClose(back.data as Float32Array, (await edgeflowRun(graph)).data as Float32Array);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tfjs export refuses weights of dtypes tfjs shards do not hold, naming them", () => {
  const g = new ef.Graph();
  g.asDefault(() => {
    const x = ef.placeholder(g, "int64", [2], { name: "x" });
    ef.add(x, ef.constant(new ef.Tensor("int64", [2], BigInt64Array.of(1n, 2n)), { name: "k" }));
  });
  assert.throws(() => toGraphModel(g), /these Consts are not: 'k' \(int64\)/);
});
