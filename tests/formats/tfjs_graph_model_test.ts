// tfjs graph models: a hand-written model.json with quantized weights loaded from a directory,
// from files in memory and from a URL; compared with tfjs-converter running the same files;
// confinement to the model's directory, and errors naming the file and field.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { concat, tinyModel, tinyReference, writeFiles } from "./tfjs_fixture.ts";
import { decodeWeightGroup, ShardStream } from "../../core/formats/tfjs/weights.ts";

const X = [[1, 2, 3], [-1, 0.5, 2]];

async function withModelDir<T>(
  files: Record<string, Uint8Array>,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    await writeFiles(dir, files);
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(model: ef.GraphModel, x: number[][]): Promise<number[]> {
  await using s = new ef.Session(model.graph);
  const out = await s.run(model.outputs[0].name, { [model.inputs[0].name]: x });
  return out.toNumbers();
}

function assertClose(actual: number[], expected: number[], tol: number) {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - expected[i]) <= tol, `[${i}]: ${a} vs ${expected[i]}`)
  );
}

Deno.test("loads a tfjs graph model from its directory: quantized weights, signature", async () => {
  const m = tinyModel();
  await withModelDir(m.files, async (dir) => {
    const model = await ef.loadGraphModel(`${dir}/model.json`);
    assert.deepEqual(model.inputs, [{ key: "x", name: "x:0", dtype: "float32", shape: [-1, 3] }]);
    assert.deepEqual(model.outputs, [{ key: "out", name: "out:0", dtype: "float32" }]);
    const g = model.graph;
    // uint8: q * scale + min in double, rounded once to float32; float16 across two shards.
    assert.deepEqual(g.node("w").attrs.value.toArray(), m.w);
    assert.deepEqual(g.node("b").attrs.value.toArray(), [1, -0.5]);
    assert.deepEqual(g.node("s").attrs.value.toArray(), m.s);
    assert.deepEqual(g.node("mask").attrs.value.toArray(), [[true, false]]);
    assert.deepEqual(g.node("flat").attrs.value.toArray(), [-1]);
    assertClose(await run(model, X), tinyReference(m, X), 1e-5);
  });
});

Deno.test("a bool weight's nonzero bytes load as true (TensorFlow's bools are 0 or 1)", async () => {
  const m = tinyModel();
  // The mask's bytes follow w's 6 uint8s and b's 4 bytes: in shard 2 at offset 3.
  const shard = m.files["group1-shard2of2.bin"].slice();
  shard[3] = 7;
  const model = await ef.loadGraphModel({ ...m.files, "group1-shard2of2.bin": shard });
  const mask = model.graph.node("mask").attrs.value;
  assert.deepEqual([...mask.data], [1, 0]);
});

Deno.test("loads the same model from files in memory and from a URL", async () => {
  const m = tinyModel();
  const fromMap = await ef.loadGraphModel(m.files);
  const fromNestedMap = await ef.loadGraphModel(
    new Map(Object.entries(m.files).map(([k, v]) => [`m/${k}`, v])),
  );
  assert.ok(fromNestedMap.graph.node("w"));
  const expected = await run(fromMap, X);
  const served = new Map(Object.entries(m.files).map(([k, v]) => [`/models/tiny/${k}`, v]));
  served.set("/models/secret.bin", new Uint8Array(8));
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const body = served.get(new URL(req.url).pathname);
    return body ? new Response(body.slice()) : new Response("not found", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}/models/tiny/`;
  const model = await ef.loadGraphModel(`${base}model.json`);
  assert.deepEqual(await run(model, X), expected);
  // A manifest that points above the model's URL prefix is refused before any fetch.
  const json = { ...m.json, weightsManifest: [{ paths: ["../secret.bin"], weights: [] }] };
  served.set("/models/tiny/escape.json", new TextEncoder().encode(JSON.stringify(json)));
  await assert.rejects(
    ef.loadGraphModel(new URL(`${base}escape.json`)),
    /escape\.json: weightsManifest\[0\]\.paths\[0\] '\.\.\/secret\.bin' leaves the model's directory/,
  );
});

Deno.test("outputs match tfjs-converter running the same model.json and shards", async () => {
  const tf = await import("npm:@tensorflow/tfjs-core@4");
  await import("npm:@tensorflow/tfjs-backend-cpu@4");
  const tfconv = await import("npm:@tensorflow/tfjs-converter@4");
  await tf.setBackend("cpu");
  const m = tinyModel();
  const shards = m.json.weightsManifest.flatMap((g) => g.paths.map((p) => m.files[p]));
  const weightData = concat(shards).slice().buffer;
  const handler = {
    load: () =>
      Promise.resolve({
        modelTopology: m.json.modelTopology,
        weightSpecs: m.json.weightsManifest.flatMap((g) => g.weights),
        weightData,
        format: m.json.format,
        signature: m.json.signature,
      }),
  };
  const tfModel = await tfconv.loadGraphModel(handler as never);
  const y = tfModel.execute({ x: tf.tensor2d(X) }, "out") as { data(): Promise<Float32Array> };
  const theirs = Array.from(await y.data());
  const ours = await run(await ef.loadGraphModel(m.files), X);
  // Both compute in float32 from the same float32 weights; sums of three products may round
  // differently in the last place.
  assertClose(ours, theirs, 1e-6);
});

Deno.test("weights paths outside the model's directory are refused", async () => {
  const m = tinyModel();
  for (const path of ["../../x", "/etc/passwd", "a/../../b", "http://evil/x", "%2e%2e/x", "C:x"]) {
    const json = { ...m.json, weightsManifest: [{ paths: [path], weights: [] }] };
    const files = { ...m.files, "model.json": new TextEncoder().encode(JSON.stringify(json)) };
    await assert.rejects(
      ef.loadGraphModel(files),
      (e: unknown) => {
        assert.ok(e instanceof ef.EdgeflowError, String(e));
        assert.match(e.message, /model\.json: weightsManifest\[0\]\.paths\[0\] .*own files/);
        return true;
      },
      path,
    );
  }
  // A symlink inside the directory that points out of it.
  await withModelDir(m.files, async (dir) => {
    const outside = await Deno.makeTempFile();
    try {
      await Deno.symlink(outside, `${dir}/link.bin`);
      const json = { ...m.json, weightsManifest: [{ paths: ["link.bin"], weights: [] }] };
      await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
      await assert.rejects(
        ef.loadGraphModel(`${dir}/model.json`),
        /link\.bin' resolves outside the model's directory/,
      );
    } finally {
      await Deno.remove(outside);
    }
  });
});

Deno.test("truncated or inconsistent weights: EdgeflowErrors naming the file and field", async () => {
  const m = tinyModel();
  const refuse = async (files: Record<string, Uint8Array>, pattern: RegExp) =>
    await assert.rejects(ef.loadGraphModel(files), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  const shard2 = m.files["group1-shard2of2.bin"];
  await refuse(
    { ...m.files, "group1-shard2of2.bin": shard2.subarray(0, shard2.length - 2) },
    /group1-shard1of2\.bin \+ group1-shard2of2\.bin: weightsManifest\[0\]\.weights\[3\] \('flat'\): int32\[1\] needs 4 bytes at offset 12; the shards hold 14/,
  );
  await refuse(
    { ...m.files, "group2-shard1of1.bin": new Uint8Array(6) },
    /group2-shard1of1\.bin: weightsManifest\[1\] describes 4 bytes of weights, its shards hold 6/,
  );
  const withJson = (json: unknown) => ({
    ...m.files,
    "model.json": new TextEncoder().encode(JSON.stringify(json)),
  });
  const huge = structuredClone(m.json);
  huge.weightsManifest[0].weights[0].shape = [2 ** 26, 2 ** 26, 2 ** 26];
  await refuse(withJson(huge), /weights\[0\] \('w'\): shape .* is too large/);
  const big = structuredClone(m.json);
  big.weightsManifest[0].weights[0].shape = [2 ** 20, 2 ** 10];
  await refuse(
    withJson(big),
    /weights\[0\] \('w'\): float32\[1048576,1024\] needs 1073741824 bytes/,
  );
  const noMin = structuredClone(m.json);
  delete (noMin.weightsManifest[0].weights[0].quantization as Record<string, unknown>).min;
  await refuse(withJson(noMin), /weights\[0\]\.quantization of 'w' needs finite numbers/);
  const badDtype = structuredClone(m.json);
  badDtype.weightsManifest[0].weights[2].dtype = "complex64";
  await refuse(withJson(badDtype), /weights\[2\]\.dtype of 'mask' is "complex64"/);
  const missing = structuredClone(m.json);
  missing.weightsManifest[1].weights = [];
  missing.weightsManifest[1].paths = [];
  await refuse(withJson(missing), /node 's' \(Const\): model\.json: the Const has no weight/);
  await refuse(
    { ...m.files, "model.json": new TextEncoder().encode('{"modelTopology": ') },
    /model\.json is not JSON/,
  );
  await refuse(
    withJson({ format: "layers-model", modelTopology: { class_name: "Sequential" } }),
    /model\.json: format is a tfjs layers model/,
  );
  const { "group2-shard1of1.bin": _, ...withoutShard } = m.files;
  await refuse(
    withoutShard,
    /weightsManifest\[1\]\.paths\[0\] 'group2-shard1of1\.bin' is not among/,
  );
});

Deno.test("a model's unsupported ops are all listed in one error, before its weights are read", async () => {
  const m = tinyModel();
  const json = structuredClone(m.json);
  const nodes = json.modelTopology.node as { name: string; op: string }[];
  nodes.find((n) => n.name === "MatMul")!.op = "BatchMatMulV3";
  nodes.find((n) => n.name === "Relu")!.op = "Relu7";
  nodes.find((n) => n.name === "Neg")!.op = "FusedBatchNormV2";
  // No shards at all: the op check comes first.
  await assert.rejects(
    ef.loadGraphModel({ "model.json": new TextEncoder().encode(JSON.stringify(json)) }),
    (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError);
      assert.match(e.message, /^model\.json uses 3 ops Edgeflow does not have/);
      assert.match(e.message, /BatchMatMulV3 \(node 'MatMul'\); nearest: BatchMatMulV2/);
      assert.match(e.message, /Relu7 \(node 'Relu'\); nearest: Relu6?/);
      assert.match(e.message, /FusedBatchNormV2 \(node 'Neg'\); nearest: FusedBatchNormV3/);
      return true;
    },
  );
});

Deno.test("without a signature, inputs are the Placeholders and outputs the unread nodes", async () => {
  const m = tinyModel();
  const json = { ...m.json, signature: undefined };
  const model = await ef.loadGraphModel({
    ...m.files,
    "model.json": new TextEncoder().encode(JSON.stringify(json)),
  });
  assert.deepEqual(model.inputs.map((t) => t.name), ["x:0"]);
  assert.deepEqual(model.outputs.map((t) => t.name), ["out:0"]);
});

Deno.test("string weights: a uint32 byte count, then the bytes, each checked against the shards", () => {
  const enc = new TextEncoder();
  const parts = ["a", "héllo"].flatMap((s) => {
    const b = enc.encode(s);
    return [new Uint8Array(new Uint32Array([b.length]).buffer), b];
  });
  const bytes = concat(parts);
  const group = {
    paths: ["s.bin"],
    weights: [{ name: "w", shape: [2], dtype: "string" as const }],
  };
  const decoded = decodeWeightGroup(group, new ShardStream([bytes]), "weightsManifest[0]", "s.bin");
  const t = decoded.get("w")!;
  assert.deepEqual(t.stringVal!.map((s) => new TextDecoder().decode(Uint8Array.fromBase64(s))), [
    "a",
    "héllo",
  ]);
  assert.throws(
    () =>
      decodeWeightGroup(
        group,
        new ShardStream([bytes.subarray(0, bytes.length - 1)]),
        "weightsManifest[0]",
        "s.bin",
      ),
    /s\.bin: weightsManifest\[0\]\.weights\[0\] \('w'\): string 1 of 6 bytes at offset 9 runs past/,
  );
  const many = { ...group, weights: [{ ...group.weights[0], shape: [2 ** 30] }] };
  assert.throws(
    () => decodeWeightGroup(many, new ShardStream([bytes]), "weightsManifest[0]", "s.bin"),
    /1073741824 strings need at least 4294967296 bytes/,
  );
});
