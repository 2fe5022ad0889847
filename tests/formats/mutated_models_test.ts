// Mutated model files (bit flips, truncations, huge counts) fed to both loaders: each load ends
// in a graph or an EdgeflowError — never another error, a hang or a giant allocation.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";
import * as formats from "../../formats.ts";
import { fcParams } from "../op_cases.ts";
import { tinyModel } from "./tfjs_fixture.ts";
import { encodeOnnxModel, type OnnxAttrValue } from "../../core/formats/onnx/onnx_encode.ts";
import { TRAINING_DOMAIN } from "../../core/formats/onnx/onnx_ops_training.ts";

/** A load may allocate at most this much for one tensor: the memory bound of the test. */
const MAX_TENSOR_BYTES = 2 ** 20;
/** Generous: a load of these few-hundred-byte files takes well under a millisecond or two. */
const MAX_LOAD_MS = 2000;

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "huge"; at: number; bytes: readonly number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    bit: fc.nat(7),
  }),
  fc.record({
    kind: fc.constant("truncate" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("huge" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    // Varints of 2^31, 2^35, 2^63 - 1: as a length, a count or a dim they claim far more than
    // the file holds.
    bytes: fc.constantFrom([0x80, 0x80, 0x80, 0x80, 0x08], [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], [
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x7f,
    ]),
  }),
);

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = bytes.slice();
  for (const m of mutations) {
    const at = Math.min(out.length - 1, Math.floor(m.at * out.length));
    if (out.length === 0) break;
    if (m.kind === "flip") out[at] ^= 1 << m.bit;
    else if (m.kind === "truncate") out = out.slice(0, at);
    else {
      const next = new Uint8Array(out.length + m.bytes.length);
      next.set(out.subarray(0, at));
      next.set(m.bytes, at);
      next.set(out.subarray(at), at + m.bytes.length);
      out = next;
    }
  }
  return out;
}

/** JSON mutations that keep it JSON: numbers replaced by huge, negative or fractional ones. */
function mutateJsonNumbers(text: string, picks: number[], values: number[]): string {
  const spots = [...text.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)];
  let out = text;
  picks.forEach((p, i) => {
    const m = spots[p % Math.max(1, spots.length)];
    if (!m) return;
    out = out.slice(0, m.index) + String(values[i % values.length]) +
      out.slice(m.index! + m[0].length);
    spots.splice(0, spots.length, ...out.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi));
  });
  return out;
}

/** Outcomes, so a test can show its mutations reach both ends (loads and refusals). */
const outcomes = { loaded: 0, refused: 0 };

async function expectGraphOrEdgeflowError(load: () => Promise<unknown>, what: string) {
  const start = performance.now();
  try {
    await load();
    outcomes.loaded++;
  } catch (e) {
    outcomes.refused++;
    if (!(e instanceof ef.EdgeflowError)) {
      throw new Error(`${what}: ${e instanceof Error ? e.stack : e}`, { cause: e });
    }
  }
  const ms = performance.now() - start;
  assert.ok(ms < MAX_LOAD_MS, `${what} took ${ms} ms`);
}

const options = { maxTensorBytes: MAX_TENSOR_BYTES, maxFileBytes: 2 ** 20 };

Deno.test("mutated binary GraphDefs give a graph or an EdgeflowError", async () => {
  const m = tinyModel();
  // A .pb with real weights: the tfjs fixture's graph written out as a frozen graph.
  const pb = formats.toGraphDefBinary((await ef.loadGraphModel(m.files)).graph);
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
      const bytes = mutate(pb, mutations);
      await expectGraphOrEdgeflowError(
        () => Promise.resolve(formats.fromGraphDefBinary(bytes, options)),
        `pb ${JSON.stringify(mutations)}`,
      );
    }),
    fcParams(400),
  );
  assertBothOutcomes();
});

function assertBothOutcomes() {
  console.log(`loaded ${outcomes.loaded}, refused ${outcomes.refused}`);
  assert.ok(outcomes.loaded > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
  outcomes.loaded = outcomes.refused = 0;
}

Deno.test("mutated tfjs model.json and shards give a graph or an EdgeflowError", async () => {
  const m = tinyModel();
  const names = Object.keys(m.files);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...names),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      async (file, mutations) => {
        const files = { ...m.files, [file]: mutate(m.files[file], mutations) };
        await expectGraphOrEdgeflowError(
          () => ef.loadGraphModel(files, options),
          `${file} ${JSON.stringify(mutations)}`,
        );
      },
    ),
    fcParams(400),
  );
  const json = new TextDecoder().decode(m.files["model.json"]);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      fc.array(
        fc.constantFrom(2 ** 31, 2 ** 53, 1e308, -1, -(2 ** 31), 0.5, 0, 4294967296, 1e21),
        { minLength: 1, maxLength: 3 },
      ),
      async (picks, values) => {
        const text = mutateJsonNumbers(json, picks, values);
        const files = { ...m.files, "model.json": new TextEncoder().encode(text) };
        await expectGraphOrEdgeflowError(
          () => ef.loadGraphModel(files, options),
          `model.json numbers ${JSON.stringify({ picks, values })}`,
        );
      },
    ),
    fcParams(300),
  );
  assertBothOutcomes();
});

/** A small ONNX model with weights: the tfjs fixture's graph and a conv net, exported. */
function onnxFixture(): Uint8Array {
  const g = new ef.Graph();
  g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [1, 6, 6, 2], { name: "x" });
    const w = ef.constant(new ef.Tensor("float32", [3, 3, 2, 4], new Float32Array(72).fill(0.5)));
    const c = ef.relu(ef.conv2d(x, w, { strides: [1, 1, 1, 1], padding: "SAME" }));
    const p = ef.maxPool(c, { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" });
    const flat = ef.reshape(p, [1, -1]);
    const d = ef.constant(new ef.Tensor("float32", [36, 3], new Float32Array(108).fill(0.25)));
    ef.softmax(ef.matMul(flat, d), { name: "y" });
  });
  return formats.toOnnx(g);
}

Deno.test("mutated ONNX models give a graph or an EdgeflowError", async () => {
  const onnx = onnxFixture();
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
      const bytes = mutate(onnx, mutations);
      await expectGraphOrEdgeflowError(
        () => formats.loadOnnxModel(bytes, options),
        `onnx ${JSON.stringify(mutations)}`,
      );
    }),
    fcParams(400),
  );
  assertBothOutcomes();
});

/** Single-node models of the ONNX ops whose mappers size nodes and constants by the model. */
function onnxOpFixtures(): Uint8Array[] {
  const f = (name: string, shape: number[]) => ({ name, dtype: "float32" as const, shape });
  const i = (name: string, shape: number[]) => ({ name, dtype: "int64" as const, shape });
  const model = (
    op: string,
    inputs: { name: string; dtype: ef.DType; shape: number[] }[],
    outputs: number,
    attrs: Record<string, OnnxAttrValue> = {},
    domain?: string,
  ) =>
    encodeOnnxModel({
      name: "m",
      opset: 17,
      initializers: [],
      nodes: [{
        op,
        domain,
        name: "n",
        inputs: inputs.map((v) => v.name),
        outputs: Array.from({ length: outputs }, (_, k) => `y${k}`),
        attrs,
      }],
      inputs,
      outputs: Array.from({ length: outputs }, (_, k) => f(`y${k}`, [-1])),
    });
  return [
    model("NonMaxSuppression", [f("b", [2, 6, 4]), f("s", [2, 3, 6]), i("m", [1])], 1, {
      center_point_box: 1,
    }),
    model("Compress", [f("x", [3, 4]), { name: "c", dtype: "bool", shape: [3] }], 1, { axis: 0 }),
    model("Unique", [f("x", [4, 3, 2])], 4, { axis: 1, sorted: 1 }),
    model("ReverseSequence", [f("x", [5, 3, 2]), i("l", [3])], 1, { batch_axis: 1, time_axis: 0 }),
    model("MaxUnpool", [f("x", [1, 2, 3, 3]), i("i", [1, 2, 3, 3])], 1, {
      kernel_shape: [2, 2],
      strides: [2, 2],
    }),
    model("CumSum", [f("x", [3, 4]), i("a", [])], 1, { exclusive: 1, reverse: 1 }),
    model("Einsum", [f("a", [2, 3, 3]), f("b", [2, 3, 4])], 1, { equation: "bii,bij->bj" }),
    model("BlackmanWindow", [i("n", [])], 1, { periodic: 0 }),
    model(
      "BatchNormalization",
      [f("x", [2, 3, 4, 4]), ...["s", "b", "m", "v"].map((n) => f(n, [3]))],
      3,
      {
        training_mode: 1,
      },
    ),
    model(
      "Adam",
      [f("R", []), i("T", []), ...["X", "G", "V", "H"].map((n) => f(n, [3]))],
      3,
      { alpha: { float: 0.9 } },
      TRAINING_DOMAIN,
    ),
  ];
}

Deno.test("mutated single-op ONNX models (selections, windows, unpooling, Einsum, optimizers) give a graph or an EdgeflowError", async () => {
  const models = onnxOpFixtures();
  await fc.assert(
    fc.asyncProperty(
      fc.nat(models.length - 1),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      async (k, mutations) => {
        const bytes = mutate(models[k], mutations);
        await expectGraphOrEdgeflowError(
          () => formats.loadOnnxModel(bytes, options),
          `onnx op model ${k} ${JSON.stringify(mutations)}`,
        );
      },
    ),
    fcParams(400),
  );
  assertBothOutcomes();
});
