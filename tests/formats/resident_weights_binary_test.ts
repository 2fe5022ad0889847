// The binary GraphDef (.pb) and ONNX loaders' `device`, as loadGraphModel's: the weights are
// copied into the WASM device's memory (or the TPU's HBM) once, the graph's Consts view them
// there, and runs use them in place (no upload, no host copy).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import {
  loadGraphDef,
  loadOnnxModel,
  releaseWeights,
  toGraphDefBinary,
  toOnnx,
} from "../../formats.ts";
import { fixtureGraph } from "../serve/model_fixture.ts";

const X = ef.tensor(Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => Math.cos(i)), [2, 6, 6, 2]);

/** The fixture's answer on REF, from the graph itself. */
async function expected(): Promise<number[]> {
  await using s = new ef.Session(fixtureGraph(), { device: "REF" });
  return (await s.run("probs:0", { "x:0": X })).toNumbers();
}

/** Every Const value the host holds outside device memory, in bytes. */
function hostConstBytes(graph: ef.Graph): number {
  let bytes = 0;
  for (const n of graph.nodes) {
    if (n.op.name !== "Const") continue;
    const data = (n.attrs.value as ef.Tensor).data as ArrayBufferView;
    if (!(data.buffer instanceof SharedArrayBuffer)) bytes += data.byteLength;
  }
  return bytes;
}

interface Loaded {
  graph: ef.Graph;
  input: string;
  output: string;
  dispose(): void;
}

const LOADERS: Record<string, (device: ef.Device | Promise<ef.Device>) => Promise<Loaded>> = {
  ".pb": async (device) => {
    const graph = await loadGraphDef(toGraphDefBinary(fixtureGraph()), { device });
    return { graph, input: "x:0", output: "probs:0", dispose: () => releaseWeights(graph) };
  },
  ".onnx": async (device) => {
    const m = await loadOnnxModel(toOnnx(fixtureGraph()), { device });
    return {
      graph: m.graph,
      input: m.inputs[0].name,
      output: m.outputs[0].name,
      dispose: m.dispose,
    };
  },
};

for (const [format, load] of Object.entries(LOADERS)) {
  Deno.test(`${format} weights loaded onto a WASM device exist once, there`, async () => {
    const want = await expected();
    await using device = (await ef.wasmPlugin.create({ threads: 1 }))!;
    const empty = device.memory().inUse;
    const m = await load(device);
    assert.equal(hostConstBytes(m.graph), 0, "a Const value is still in host memory");
    // ONNX's filter transposes (OIHW → HWIO) are folded before placing: the device holds the
    // layout the kernels read, and no Transpose of a weight is left to run.
    const transposed = m.graph.nodes.filter((n) =>
      n.op.name === "Transpose" && n.inputs.every((i) => i.node.op.name === "Const")
    );
    assert.deepEqual(transposed.map((n) => n.name), []);
    const held = device.memory().inUse;
    assert.ok(held - empty >= (3 * 3 * 2 * 4 + 6 * 6 * 4 * 5) * 4, "the weights are on the device");
    {
      await using s = new ef.Session(m.graph, { devices: [device] });
      for (let run = 0; run < 3; run++) {
        const before = device.transfers.uploadBytes;
        const y = await s.run(m.output, { [m.input]: X });
        // Only the fed input goes up: every weight is already in place, from the first run on.
        assert.equal(device.transfers.uploadBytes - before, X.size * 4, `run ${run}`);
        y.toNumbers().forEach((v, i) =>
          assert.ok(Math.abs(v - want[i]) <= 1e-5, `${v} ${want[i]}`)
        );
      }
    }
    m.dispose();
    m.dispose(); // idempotent
    assert.equal(device.memory().inUse, empty, "dispose releases the weights");
  });

  Deno.test(`${format}: the device may be a promise, and must hold weights in place`, async () => {
    let resolve!: (d: ef.Device) => void;
    const loading = load(new Promise<ef.Device>((r) => resolve = r));
    await using device = (await ef.wasmPlugin.create({ threads: 1 }))!;
    resolve(device);
    const m = await loading;
    assert.equal(hostConstBytes(m.graph), 0);
    m.dispose();
    const gpu = { type: "GPU0", adopt: undefined } as unknown as ef.Device;
    await assert.rejects(
      load(gpu),
      (e: unknown) =>
        e instanceof ef.EdgeflowError &&
        /option 'device' takes a device with host-addressable memory/.test(e.message),
    );
  });
}

Deno.test(".pb weights loaded onto the TPU are its HBM buffers, uploaded once", async () => {
  const device = (await ef.tpuPlugin.create({}))!;
  try {
    const graph = await loadGraphDef(toGraphDefBinary(fixtureGraph()), { device });
    const held = device.memory().inUse;
    await using s = new ef.Session(graph, { devices: [device] });
    for (let run = 0; run < 2; run++) {
      await s.run("probs:0", { "x:0": X });
      // No weight is uploaded again: HBM holds what it held after loading, between runs.
      assert.equal(device.memory().inUse, held, `run ${run}`);
    }
    releaseWeights(graph);
  } finally {
    await device[Symbol.asyncDispose]();
  }
});

Deno.test(".onnx with a Loop: weights placed on WASM, the loop computes what it did on the host", async () => {
  // acc += x * k for i < n (at most 5): k is a weight read inside the loop body.
  const g = new ef.Graph();
  g.asDefault(() => {
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const x = ef.placeholder(g, "float32", [3], { name: "x" });
    const k = ef.constant(ef.Tensor.fromNumbers("float32", [3], [1, 10, 100]), { name: "k" });
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, acc) => [ef.add(i, 1), ef.add(acc, ef.mul(x, k))],
      [ef.constant(0, { dtype: "int32" }), ef.zerosLike(x)],
      { maximumIterations: 5 },
    );
    ef.identity(acc, { name: "acc" });
  });
  const bytes = toOnnx(g, { outputs: ["acc"] });
  const feedsOf = (m: { inputs: { key: string; name: string }[] }, count: number) =>
    m.inputs.map((i) =>
      [
        i.name,
        i.key === "n"
          ? ef.Tensor.fromNumbers("int32", [], [count])
          : ef.Tensor.fromNumbers("float32", [3], [0.5, 1, -2]),
      ] as [string, ef.Tensor]
    );
  await using device = (await ef.wasmPlugin.create({ threads: 1 }))!;
  const empty = device.memory().inUse;
  const host = await loadOnnxModel(bytes);
  const placed = await loadOnnxModel(bytes, { device });
  assert.equal(hostConstBytes(placed.graph), 0, "a Const value is still in host memory");
  {
    await using a = new ef.Session(host.graph, { devices: [device] });
    await using b = new ef.Session(placed.graph, { devices: [device] });
    for (const count of [0, 3, 9]) {
      const want = await a.run(host.outputs[0].name, feedsOf(host, count));
      const got = await b.run(placed.outputs[0].name, feedsOf(placed, count));
      assert.deepEqual(got.toNumbers(), want.toNumbers(), `n = ${count}`);
    }
  }
  placed.dispose();
  assert.equal(device.memory().inUse, empty, "dispose releases the weights");
});
