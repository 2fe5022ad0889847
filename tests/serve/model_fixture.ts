// A small conv net written as a tfjs graph model (model.json + one float32 weight shard, as
// tensorflowjs_converter lays it out), as a frozen GraphDef (.pb) and as ONNX (.onnx), for the
// serving tests and bench/edge.ts when no real model is at hand. Input "x" [?, 6, 6, 2], output "probs" [?, 5].
import * as ef from "../../mod.ts";

export interface FixtureModel {
  graph: ef.Graph;
  /** The model's directory (model.json, group1-shard1of1.bin, model.pb, model.onnx). */
  dir: string;
}

const H = 6, W = 6, C = 2, F = 4, K = 5;

/** Deterministic values in [-1, 1): no two weights alike, nothing random. */
function wave(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * 0.9);
}

export function fixtureGraph(): ef.Graph {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, H, W, C], { name: "x" });
  const filter = ef.constant(ef.tensor(wave(3 * 3 * C * F, 1), [3, 3, C, F]), {
    graph: g,
    name: "filter",
  });
  const conv = ef.conv2d(x, filter, { strides: [1, 1, 1, 1], padding: "SAME", name: "conv" });
  const b1 = ef.constant(ef.tensor(wave(F, 2)), { graph: g, name: "b1" });
  const h = ef.relu(ef.biasAdd(conv, b1, { name: "bias1" }), { name: "relu" });
  const flat = ef.reshape(
    h,
    ef.constant(ef.tensor([-1, H * W * F], undefined, "int32"), {
      graph: g,
      name: "flat_shape",
    }),
    { name: "flat" },
  );
  const w = ef.constant(ef.tensor(wave(H * W * F * K, 3), [H * W * F, K]), { graph: g, name: "w" });
  const b2 = ef.constant(ef.tensor(wave(K, 4)), { graph: g, name: "b2" });
  const logits = ef.biasAdd(ef.matMul(flat, w, { name: "dense" }), b2, { name: "logits" });
  ef.softmax(logits, { name: "probs" });
  return g;
}

/** Writes the fixture into a new temporary directory. */
export async function writeFixtureModel(): Promise<FixtureModel> {
  const graph = fixtureGraph();
  const dir = await Deno.makeTempDir({ prefix: "edgeflow-serve-model-" });
  const def = ef.toGraphDef(graph);
  const shard: Uint8Array[] = [];
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  // tfjs-converter keeps Const values in the weight shards and only dtype and shape in the topology.
  const node = def.node!.map((n) => {
    const t = n.attr?.value?.tensor;
    if (n.op !== "Const" || !t?.tensorContent) return n;
    const content = t.tensorContent;
    const bytes = typeof content === "string"
      ? Uint8Array.from(atob(content), (c) => c.charCodeAt(0))
      : content.slice();
    shard.push(bytes);
    weights.push({
      name: n.name,
      shape: (t.tensorShape?.dim ?? []).map((d) => Number(d.size)),
      dtype: t.dtype === "DT_INT32" ? "int32" : "float32",
    });
    const { tensorContent: _, ...rest } = t;
    return { ...n, attr: { ...n.attr, value: { tensor: rest } } };
  });
  const modelJson = {
    format: "graph-model",
    generatedBy: "edgeflow tests/serve/model_fixture.ts",
    modelTopology: { ...def, node },
    weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights }],
    signature: {
      inputs: { x: { name: "x:0", dtype: "DT_FLOAT", tensorShape: dims([-1, H, W, C]) } },
      outputs: { probs: { name: "probs:0", dtype: "DT_FLOAT", tensorShape: dims([-1, K]) } },
    },
  };
  await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(modelJson));
  await Deno.writeFile(`${dir}/group1-shard1of1.bin`, concat(shard));
  const { toGraphDefBinary, toOnnx } = await import("../../formats.ts");
  await Deno.writeFile(`${dir}/model.pb`, toGraphDefBinary(graph));
  await Deno.writeFile(`${dir}/model.onnx`, toOnnx(graph));
  return { graph, dir };
}

function dims(shape: number[]) {
  return { dim: shape.map((d) => ({ size: String(d) })) };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.byteLength;
  return out;
}

/** A deterministic input batch of `rows` rows, different per `seed`. */
export function fixtureInput(rows: number, seed: number): number[][][][] {
  const flat = wave(rows * H * W * C, seed * 13 + 0.5);
  return Array.from(
    { length: rows },
    (_, r) =>
      Array.from(
        { length: H },
        (_, i) =>
          Array.from({ length: W }, (_, j) =>
            Array.from({ length: C }, (_, c) => flat[((r * H + i) * W + j) * C + c])),
      ),
  );
}

/** The fixture's reference answer for `input` on REF. */
export async function referenceProbs(graph: ef.Graph, input: number[][][][]): Promise<number[][]> {
  await using s = new ef.Session(graph, { device: "REF" });
  return (await s.run("probs:0", { "x:0": input })).toArray() as number[][];
}
