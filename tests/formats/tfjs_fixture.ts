// A tiny tfjs graph model written by hand: model.json in tfjs-converter's layout and weight
// shards in tfjs's byte format, with uint8-, uint16- and float16-quantized, bool and int32
// weights, one weight split across two shards.
import { float32ToFloat16 } from "../../core/dtype.ts";

export interface TinyModel {
  /** File name → bytes, as they would lie in the model's directory. */
  files: Record<string, Uint8Array>;
  json: {
    modelTopology: { node: unknown[] };
    weightsManifest: { paths: string[]; weights: Record<string, unknown>[] }[];
    signature?: unknown;
    format: string;
  };
  /** The dequantized weights, for references. */
  w: number[][];
  b: number[];
  s: number[];
  mask: boolean[][];
}

const f32 = (t: string) => ({ T: { type: t } });

export function tinyModel(): TinyModel {
  const wq = [0, 255, 10, 128, 200, 3];
  const wMin = -1, wScale = 2 / 255;
  const bHalves = [1, -0.5].map(float32ToFloat16);
  const sq = [0, 65535];
  const sMin = 0.5, sScale = 1.5 / 65535;
  const maskBytes = [1, 0];

  const group1 = concat([
    new Uint8Array(wq),
    new Uint8Array(new Uint16Array(bHalves).buffer),
    new Uint8Array(maskBytes),
    new Uint8Array(new Int32Array([-1]).buffer),
  ]);
  const group2 = new Uint8Array(new Uint16Array(sq).buffer);
  const constNode = (name: string, dtype: string, dims: number[]) => ({
    name,
    op: "Const",
    attr: {
      value: {
        tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } },
      },
      dtype: { type: dtype },
    },
  });
  const json = {
    format: "graph-model",
    generatedBy: "2.15.0",
    convertedBy: "hand-written test fixture",
    modelTopology: {
      node: [
        {
          name: "x",
          op: "Placeholder",
          attr: {
            dtype: { type: "DT_FLOAT" },
            shape: { shape: { dim: [{ size: "-1" }, { size: "3" }] } },
          },
        },
        constNode("w", "DT_FLOAT", [3, 2]),
        constNode("b", "DT_FLOAT", [2]),
        constNode("mask", "DT_BOOL", [1, 2]),
        constNode("flat", "DT_INT32", [1]),
        constNode("s", "DT_FLOAT", [2]),
        {
          name: "MatMul",
          op: "MatMul",
          input: ["x", "w"],
          attr: { ...f32("DT_FLOAT"), transpose_a: { b: false }, transpose_b: { b: false } },
        },
        {
          name: "BiasAdd",
          op: "BiasAdd",
          input: ["MatMul", "b"],
          attr: { ...f32("DT_FLOAT"), data_format: { s: btoa("NHWC") } },
        },
        { name: "Mul", op: "Mul", input: ["BiasAdd", "s"], attr: f32("DT_FLOAT") },
        { name: "Relu", op: "Relu", input: ["Mul"], attr: f32("DT_FLOAT") },
        { name: "Neg", op: "Neg", input: ["Relu"], attr: f32("DT_FLOAT") },
        {
          name: "SelectV2",
          op: "SelectV2",
          input: ["mask", "Relu", "Neg"],
          attr: f32("DT_FLOAT"),
        },
        {
          name: "out",
          op: "Reshape",
          input: ["SelectV2", "flat"],
          attr: { ...f32("DT_FLOAT"), Tshape: { type: "DT_INT32" } },
        },
      ],
      library: {},
      versions: { producer: 1645 },
    },
    weightsManifest: [
      {
        paths: ["group1-shard1of2.bin", "group1-shard2of2.bin"],
        weights: [
          {
            name: "w",
            shape: [3, 2],
            dtype: "float32",
            quantization: { dtype: "uint8", min: wMin, scale: wScale, original_dtype: "float32" },
          },
          { name: "b", shape: [2], dtype: "float32", quantization: { dtype: "float16" } },
          { name: "mask", shape: [1, 2], dtype: "bool" },
          { name: "flat", shape: [1], dtype: "int32" },
        ],
      },
      {
        paths: ["group2-shard1of1.bin"],
        weights: [{
          name: "s",
          shape: [2],
          dtype: "float32",
          quantization: { dtype: "uint16", min: sMin, scale: sScale },
        }],
      },
    ],
    signature: {
      inputs: {
        x: {
          name: "x:0",
          dtype: "DT_FLOAT",
          tensorShape: { dim: [{ size: "-1" }, { size: "3" }] },
        },
      },
      outputs: { out: { name: "out:0", dtype: "DT_FLOAT" } },
    },
  };
  // Split group 1 inside the float16 weight, so one weight spans both shards.
  const cut = wq.length + 1;
  const files: Record<string, Uint8Array> = {
    "model.json": new TextEncoder().encode(JSON.stringify(json)),
    "group1-shard1of2.bin": group1.slice(0, cut),
    "group1-shard2of2.bin": group1.slice(cut),
    "group2-shard1of1.bin": group2,
  };
  const fround = Math.fround;
  const wv = wq.map((q) => fround(q * wScale + wMin));
  return {
    files,
    json,
    w: [[wv[0], wv[1]], [wv[2], wv[3]], [wv[4], wv[5]]],
    b: [1, -0.5],
    s: sq.map((q) => fround(q * sScale + sMin)),
    mask: [[true, false]],
  };
}

/** What the model computes, in float64 from the dequantized weights. */
export function tinyReference(m: TinyModel, x: number[][]): number[] {
  const out: number[] = [];
  for (const row of x) {
    for (let j = 0; j < 2; j++) {
      let acc = 0;
      for (let k = 0; k < 3; k++) acc += row[k] * m.w[k][j];
      const relu = Math.max(0, (acc + m.b[j]) * m.s[j]);
      out.push(m.mask[0][j] ? relu : -relu);
    }
  }
  return out;
}

export async function writeFiles(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, bytes);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
