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

export function modelOf(
  node: Node,
  feeds: Feed[],
  out: { dtype: ef.DType; rank: number },
): Uint8Array {
  return encodeOnnxModel({
    name: "m",
    opset: 17,
    initializers: [],
    nodes: [node],
    inputs: feeds.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape.slice() })),
    outputs: [{ name: node.outputs[0], dtype: out.dtype, shape: new Array(out.rank).fill(-1) }],
  });
}

async function viaOrt(
  bytes: Uint8Array,
  feeds: Feed[],
): Promise<{ shape: number[]; data: number[] }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  const input: Record<string, ort.Tensor> = {};
  for (const [name, t] of feeds) {
    input[name] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.shape.slice());
  }
  const out = Object.values(await session.run(input))[0];
  await session.release();
  return { shape: out.dims.slice(), data: Array.from(out.data as ArrayLike<number>, Number) };
}

export async function viaEdgeflow(
  bytes: Uint8Array,
  feeds: Feed[],
  device: string,
): Promise<{ shape: number[]; data: number[] }> {
  const m = await loadOnnxModel(bytes);
  await using s = new ef.Session(m.graph, { device });
  const byKey = new Map(m.inputs.map((i) => [i.key, i.name]));
  const y = await s.run(m.outputs[0].name, feeds.map(([n, t]) => [byKey.get(n)!, t] as const));
  return { shape: y.shape.slice(), data: Array.from(y.data as ArrayLike<number>, Number) };
}

export interface Case {
  name: string;
  node: Node;
  feeds: Feed[];
  out: { dtype: ef.DType; rank: number };
}

/** One test per case: Edgeflow's output on WASM and REF equals onnxruntime-web's. */
export function compareWithOrt(cases: readonly Case[]): void {
  for (const c of cases) {
    Deno.test(`ONNX ${c.name} gives onnxruntime-web's output on WASM and REF`, async () => {
      const bytes = modelOf(c.node, c.feeds, c.out);
      const want = await viaOrt(bytes, c.feeds);
      for (const device of ["WASM", "REF"]) {
        const got = await viaEdgeflow(bytes, c.feeds, device);
        assert.deepEqual(got.shape, want.shape, `${device}: shape`);
        // Integers exactly; floats within float32 rounding (onnxruntime computes some in double).
        const exact = c.out.dtype !== "float32";
        got.data.forEach((v, i) => {
          const w = want.data[i];
          const close = exact ? Object.is(v, w) : Math.abs(v - w) <= 1e-6 + 1e-6 * Math.abs(w);
          assert.ok(close || (v !== v && w !== w), `${device}: element ${i}: ${v}, expected ${w}`);
        });
      }
    });
  }
}
