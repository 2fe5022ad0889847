// Single-node ONNX models run in Edgeflow (on WASM and REF) and in onnxruntime-web (the version
// deno.lock pins), for the import tests that take onnxruntime's answer as ONNX's meaning.
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-web@1";
import * as ef from "../../mod.ts";
import { loadOnnxModel } from "../../formats.ts";
import { encodeOnnxModel, type OnnxGraphOut } from "../../core/formats/onnx/onnx_encode.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

export type Node = OnnxGraphOut["nodes"][number];
/** A graph input: its name and value ("" names an absent optional input). */
export type Feed = [string, ef.Tensor];

export const f32 = (shape: number[], v: number[]) =>
  new ef.Tensor("float32", shape, Float32Array.from(v));
export const i64 = (shape: number[], v: number[]) =>
  new ef.Tensor("int64", shape, BigInt64Array.from(v.map(BigInt)));
export const bool = (v: boolean[]) => new ef.Tensor("bool", [v.length], Uint8Array.from(v, Number));

/** An output's dtype and rank (its dims unknown to the model). */
export interface OutSpec {
  dtype: ef.DType;
  rank: number;
}
type Values = { shape: number[]; data: number[] };

/** A model of one node, its feeds as graph inputs, its outputs (node.outputs in order) `outs`. */
export function modelOf(
  node: Node,
  feeds: Feed[],
  out: OutSpec | OutSpec[],
  opset = 17,
): Uint8Array {
  const outs = Array.isArray(out) ? out : [out];
  return encodeOnnxModel({
    name: "m",
    opset,
    initializers: [],
    nodes: [node],
    inputs: feeds.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape.slice() })),
    outputs: outs.map((o, i) => ({
      name: node.outputs[i],
      dtype: o.dtype,
      shape: new Array(o.rank).fill(-1),
    })),
  });
}

async function viaOrt(
  bytes: Uint8Array,
  feeds: Feed[],
  names: readonly string[],
): Promise<Values[]> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  const input: Record<string, ort.Tensor> = {};
  for (const [name, t] of feeds) {
    input[name] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.shape.slice());
  }
  const out = await session.run(input);
  await session.release();
  return names.map((n) => ({
    shape: out[n].dims.slice(),
    data: Array.from(out[n].data as ArrayLike<number>, Number),
  }));
}

/** Every output of the model run on `device`, in the model's order. */
export async function viaEdgeflowAll(
  bytes: Uint8Array,
  feeds: Feed[],
  device: string,
): Promise<Values[]> {
  const m = await loadOnnxModel(bytes);
  await using s = new ef.Session(m.graph, { device });
  const byKey = new Map(m.inputs.map((i) => [i.key, i.name]));
  const ys = await s.run(
    m.outputs.map((o) => o.name),
    feeds.map(([n, t]) => [byKey.get(n)!, t] as const),
  ) as ef.Tensor[];
  return ys.map((y) => ({
    shape: y.shape.slice(),
    data: Array.from(y.data as ArrayLike<number>, Number),
  }));
}

/** The model's first output run on `device`. */
export async function viaEdgeflow(
  bytes: Uint8Array,
  feeds: Feed[],
  device: string,
): Promise<Values> {
  return (await viaEdgeflowAll(bytes, feeds, device))[0];
}

export interface Case {
  name: string;
  node: Node;
  feeds: Feed[];
  /** The node's outputs compared (the first, or the first few in order). */
  out: OutSpec | OutSpec[];
  opset?: number;
}

/** One test per case: Edgeflow's outputs on WASM and REF equal onnxruntime-web's. */
export function compareWithOrt(cases: readonly Case[]): void {
  for (const c of cases) {
    Deno.test(`ONNX ${c.name} gives onnxruntime-web's output on WASM and REF`, async () => {
      const outs = Array.isArray(c.out) ? c.out : [c.out];
      const bytes = modelOf(c.node, c.feeds, outs, c.opset);
      const want = await viaOrt(bytes, c.feeds, c.node.outputs.slice(0, outs.length));
      for (const device of ["WASM", "REF"]) {
        const got = await viaEdgeflowAll(bytes, c.feeds, device);
        outs.forEach((o, k) => {
          const where = `${device}, output ${k}`;
          assert.deepEqual(got[k].shape, want[k].shape, `${where}: shape`);
          // Integers exactly; floats within float32 rounding (onnxruntime computes some in double).
          const exact = o.dtype !== "float32";
          got[k].data.forEach((v, i) => {
            const w = want[k].data[i];
            const close = exact ? Object.is(v, w) : Math.abs(v - w) <= 1e-6 + 1e-6 * Math.abs(w);
            assert.ok(close || (v !== v && w !== w), `${where}: element ${i}: ${v}, expected ${w}`);
          });
        });
      }
    });
  }
}
