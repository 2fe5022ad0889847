// Checkpoints: safetensors + manifest round trips on each device and across devices, atomic
// writes under injected failures, keep-last-N, every corruption named by file and tensor, mutated
// files giving only EdgeflowErrors, and Debian's numpy reading a checkpoint without Edgeflow.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../mod.ts";
import type { CheckpointFileSystem } from "../core/train/checkpoint_files.ts";
import { littleEndianBytes } from "../core/train/checkpoint_safetensors.ts";
import { fcParams } from "./op_cases.ts";
import { reportMissing } from "./kernels/devices.ts";

const { Tensor } = ef;
const { CheckpointError, Saver, denoFileSystem } = ef.train;

/** One variable of every dtype, with edge values (NaN, -0, the integer extremes, an empty dim). */
function allDtypes(scale: number): Record<string, ef.Tensor> {
  return {
    "dense/kernel": Tensor.fromNumbers("float32", [2, 3], [1.5, -2, 0, -0, Infinity, NaN]),
    "dense/bias": Tensor.fromNumbers("float32", [3], [0.1 * scale, 0.2, 0.3]),
    counts: Tensor.fromNumbers("int32", [4], [-(2 ** 31), 2 ** 31 - 1, scale, 0]),
    global_step: new Tensor("int64", [], BigInt64Array.of(2n ** 40n + BigInt(scale))),
    mask: Tensor.fromNumbers("bool", [3], [1, 0, scale % 2]),
    half: Tensor.fromNumbers("float16", [2], [65504, -scale / 1024]),
    brain: Tensor.fromNumbers("bfloat16", [2], [3e38, scale / 3]),
    pixels: Tensor.fromNumbers("uint8", [3], [0, 255, scale & 255]),
    signed: Tensor.fromNumbers("int8", [2], [-128, 127]),
    empty: Tensor.zeros("float32", [0, 3]),
  };
}

/** The same values with every element zeroed: what a fresh model starts from. */
function zerosLike(values: Record<string, ef.Tensor>): Record<string, ef.Tensor> {
  return Object.fromEntries(
    Object.entries(values).map(([k, t]) => [k, Tensor.zeros(t.dtype, t.shape.slice())]),
  );
}

/** A graph holding one variable per entry, named as the key, plus reads of all of them. */
function model(values: Record<string, ef.Tensor>) {
  const g = new ef.Graph();
  const vars = Object.entries(values).map(([name, t]) => new ef.Variable(t, { graph: g, name }));
  const reads = vars.map((v) => v.read());
  return { g, vars, reads, names: Object.keys(values), init: ef.globalVariablesInitializer(g) };
}

/** Every variable's value by name. */
async function readAll(
  s: ef.Session,
  m: { reads: ef.Output[]; names: string[] },
): Promise<Record<string, ef.Tensor>> {
  const values = await s.run(m.reads);
  return Object.fromEntries(values.map((t, i) => [m.names[i], t]));
}

/** Bit-exact comparison (NaN and -0 included), dtype and shape too. */
function assertSameValues(actual: Record<string, ef.Tensor>, expected: Record<string, ef.Tensor>) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name];
    assert.equal(a.dtype, e.dtype, name);
    assert.deepEqual(a.shape, e.shape, name);
    assert.deepEqual(littleEndianBytes(a), littleEndianBytes(e), name);
  }
}

/** A temporary directory, removed when the test's `await using` scope ends. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "edgeflow-ckpt-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

for (const device of ["REF", "WASM"]) {
  Deno.test(`round trip of every dtype on ${device}`, async () => {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const values = allDtypes(7);
    const a = model(values);
    await using s = new ef.Session(a.g, { device });
    await s.run([], {}, [a.init]);
    const saver = new Saver();
    const path = await saver.save(s, dir, { step: 7 });
    assert.equal(path, `${dir}/ckpt-7`);

    // Into the same session after the variables changed...
    await s.run([], {}, a.vars.map((v) => v.assign(Tensor.zeros(v.dtype, v.shape as number[]))));
    const manifest = await saver.restore(s, dir);
    assert.equal(manifest.step, 7);
    assertSameValues(await readAll(s, a), values);

    // ...and into a fresh graph and session, never initialised, through the checkpoint's path.
    const b = model(zerosLike(values));
    await using fresh = new ef.Session(b.g, { device });
    await new Saver().restore(fresh, `${path}.safetensors`);
    assertSameValues(await readAll(fresh, b), values);
  });
}

Deno.test("save from WASM, restore onto TPU and REF", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const values = allDtypes(3);
  const a = model(values);
  await using wasm = new ef.Session(a.g, { device: "WASM" });
  await wasm.run([], {}, [a.init]);
  await new Saver().save(wasm, dir, { step: 3 });
  for (const device of ["TPU", "REF"]) {
    const b = model(zerosLike(values));
    await using s = new ef.Session(b.g, { device });
    await new Saver().restore(s, dir);
    const metadata: ef.RunMetadata = { steps: [] };
    await s.run(b.reads, {}, [], { metadata });
    // The float32 kernel's read ran where the restoring session placed the variable.
    const read = metadata.steps.find((st) => st.node === b.reads[0].node.name)!;
    assert.match(read.device, new RegExp(`device:${device}:0$`));
    assertSameValues(await readAll(s, b), values);
  }
});

Deno.test("save from WASM, restore onto WebGPU", async (t) => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  // WebGPU stores int64 as checked int32 (WGSL has no i64): the step stays in that range here.
  const values = { ...allDtypes(4), global_step: new Tensor("int64", [], BigInt64Array.of(-4n)) };
  const a = model(values);
  await using wasm = new ef.Session(a.g, { device: "WASM" });
  await wasm.run([], {}, [a.init]);
  const path = await new Saver().save(wasm, dir, { step: 4 });
  const b = model(zerosLike(values));
  await using gpu = new ef.Session(b.g, { device: "WEBGPU" });
  try {
    await gpu.device("WEBGPU");
  } catch (e) {
    return reportMissing(t, `no WebGPU device on this machine (${(e as Error).message})`);
  }
  await new Saver().restore(gpu, dir);
  const metadata: ef.RunMetadata = { steps: [] };
  await gpu.run(b.reads, {}, [], { metadata });
  const read = metadata.steps.find((st) => st.node === b.reads[0].node.name)!;
  assert.match(read.device, /device:WEBGPU:0$/);
  assertSameValues(await readAll(gpu, b), values);

  // A value the device cannot hold is refused, naming the file and the tensor.
  await wasm.run([], {}, [a.vars[b.names.indexOf("global_step")].assign(2n ** 40n)]);
  await new Saver().save(wasm, dir, { step: 5 });
  await assert.rejects(
    () => new Saver().restore(gpu, dir),
    (e) =>
      e instanceof CheckpointError && e.tensor === "global_step" &&
      e.file === `${dir}/ckpt-5.safetensors` && /does not fit/.test(e.message),
  );
  assert.equal(path, `${dir}/ckpt-4`);
});

Deno.test("a named set of variables; the step read from a tensor in the same run", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const g = new ef.Graph();
  const w = new ef.Variable(Tensor.fromNumbers("float32", [2], [1, 2]), { graph: g, name: "w" });
  const slot = new ef.Variable(Tensor.fromNumbers("float32", [2], [3, 4]), {
    graph: g,
    name: "w/Adam",
    trainable: false,
  });
  const step = new ef.Variable(new Tensor("int64", [], BigInt64Array.of(41n)), {
    graph: g,
    name: "global_step",
  });
  await using s = new ef.Session(g);
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  const saver = new Saver({ variables: { "model/w": w, "optimizer/w/m": slot }, maxToKeep: 3 });
  const path = await saver.save(s, dir, { step: step.read() });
  assert.equal(path, `${dir}/ckpt-41`);
  const manifest = JSON.parse(await Deno.readTextFile(`${path}.json`));
  assert.deepEqual(manifest.tensors.map((t: { name: string }) => t.name), [
    "model/w",
    "optimizer/w/m",
  ]);
  assert.equal(manifest.step, 41);
  // Without a step, the next one after the directory's latest.
  assert.equal(await saver.save(s, dir), `${dir}/ckpt-42`);
  await assert.rejects(() => saver.save(s, dir, { step: -1 }), ef.EdgeflowError);
  assert.throws(() => new Saver({ maxToKeep: 0 }), /maxToKeep must be a positive integer/);
  assert.throws(
    () => new Saver({ variables: [w, w] }).build(g),
    /two variables are saved as 'w'/,
  );
});

Deno.test("keeps the last N checkpoints; the index and files follow", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const a = model({ v: Tensor.fromNumbers("float32", [2], [0, 0]) });
  await using s = new ef.Session(a.g, { device: "REF" });
  await s.run([], {}, [a.init]);
  const saver = new Saver({ maxToKeep: 2 });
  for (let step = 1; step <= 4; step++) {
    await s.run([], {}, [a.vars[0].assign([step, -step])]);
    await saver.save(s, dir, { step });
  }
  assert.deepEqual(await saver.checkpoints(dir), [`${dir}/ckpt-3`, `${dir}/ckpt-4`]);
  const files = [];
  for await (const e of Deno.readDir(dir)) files.push(e.name);
  assert.deepEqual(files.sort(), [
    "checkpoint",
    "ckpt-3.json",
    "ckpt-3.safetensors",
    "ckpt-4.json",
    "ckpt-4.safetensors",
  ]);
  // A given checkpoint rather than the latest.
  assert.equal((await saver.restore(s, `${dir}/ckpt-3`)).step, 3);
  assert.deepEqual((await s.run(a.reads[0])).toNumbers(), [3, -3]);
  // A second saver continues the directory's list; a step saved twice gets a new name.
  const other = new Saver({ maxToKeep: 2 });
  assert.equal(await other.save(s, dir, { step: 4 }), `${dir}/ckpt-4_1`);
  assert.deepEqual(await other.checkpoints(dir), [`${dir}/ckpt-4`, `${dir}/ckpt-4_1`]);
  assert.equal(await other.latest(dir), `${dir}/ckpt-4_1`);
});

/**
 * The real file system, except that the first write or rename whose path matches `failing` dies
 * part way: a write leaves half its bytes under the temporary name, and the cleanup fails too,
 * as a crash would leave things.
 */
function crashingFileSystem(op: "write" | "rename", failing: RegExp): CheckpointFileSystem {
  let crashed = false;
  const crash = (path: string) => {
    if (crashed || !failing.test(path)) return false;
    crashed = true;
    return true;
  };
  return {
    ...denoFileSystem,
    async writeSynced(path, data) {
      if (op === "write" && crash(path)) {
        await Deno.writeFile(path, data.subarray(0, data.length >> 1));
        throw new Error("injected: the disk is full");
      }
      await denoFileSystem.writeSynced(path, data);
    },
    async rename(from, to) {
      if (op === "rename" && crash(to)) throw new Error("injected: the machine stopped");
      await denoFileSystem.rename(from, to);
    },
    remove: async (path) => {
      if (crashed && path.includes(".tmp-")) throw new Error("injected: gone before cleanup");
      await denoFileSystem.remove(path);
    },
  };
}

for (
  const [op, failing] of [
    ["write", /ckpt-2\.safetensors/],
    ["write", /ckpt-2\.json/],
    ["rename", /ckpt-2\.safetensors$/],
    ["write", /checkpoint\.tmp/],
    ["rename", /checkpoint$/],
  ] as const
) {
  Deno.test(`a ${op} failing on ${failing.source} leaves the last good checkpoint`, async () => {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const a = model({ v: Tensor.fromNumbers("float32", [3], [1, 2, 3]) });
    await using s = new ef.Session(a.g, { device: "REF" });
    await s.run([], {}, [a.init]);
    await new Saver().save(s, dir, { step: 1 });

    await s.run([], {}, [a.vars[0].assign([9, 9, 9])]);
    const saver = new Saver({ fileSystem: crashingFileSystem(op, failing) });
    await assert.rejects(
      () => saver.save(s, dir, { step: 2 }),
      (e) => e instanceof CheckpointError && /injected/.test(e.message) && e.file.startsWith(dir),
    );
    assert.equal(await saver.latest(dir), `${dir}/ckpt-1`);
    assert.equal((await new Saver().restore(s, dir)).step, 1);
    assert.deepEqual((await s.run(a.reads[0])).toNumbers(), [1, 2, 3]);

    // The next save works and replaces whatever the failed one left under its names.
    await s.run([], {}, [a.vars[0].assign([5, 5, 5])]);
    assert.equal(await new Saver().save(s, dir, { step: 2 }), `${dir}/ckpt-2`);
    await s.run([], {}, [a.vars[0].assign([0, 0, 0])]);
    assert.equal((await new Saver().restore(s, dir)).step, 2);
    assert.deepEqual((await s.run(a.reads[0])).toNumbers(), [5, 5, 5]);
  });
}

// ---- corrupt files -------------------------------------------------------------------------

const SMALL = {
  a: Tensor.fromNumbers("float32", [2, 2], [1, 2, 3, 4]),
  b: Tensor.fromNumbers("int32", [3], [5, 6, 7]),
  c: Tensor.fromNumbers("float32", [2], [8, 9]),
};

/** A saved checkpoint of SMALL with its parts, and a session of a fresh model to restore into. */
async function savedSmall() {
  const dir = (await tempDir()).path;
  const a = model(SMALL);
  await using s = new ef.Session(a.g, { device: "REF" });
  await s.run([], {}, [a.init]);
  const path = await new Saver().save(s, dir, { step: 1 });
  const dataPath = `${path}.safetensors`;
  const bytes = await Deno.readFile(dataPath);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  return {
    dir,
    path,
    dataPath,
    bytes,
    header,
    data: bytes.slice(8 + n),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A safetensors file from a header object (or raw header text) and data bytes. */
function assemble(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function restoreFresh(path: string, values: Record<string, ef.Tensor> = SMALL) {
  const b = model(zerosLike(values));
  await using s = new ef.Session(b.g, { device: "REF" });
  await new Saver().restore(s, path);
  return await readAll(s, b);
}

/** Restoring rejects with a CheckpointError naming `file` and `tensor`, with `reason`. */
async function assertCorrupt(
  path: string,
  file: string,
  tensor: string | undefined,
  reason: RegExp,
  values?: Record<string, ef.Tensor>,
) {
  await assert.rejects(() => restoreFresh(path, values), (e) => {
    assert.ok(e instanceof ef.EdgeflowError, `not an EdgeflowError: ${e}`);
    assert.ok(e instanceof CheckpointError);
    assert.equal(e.file, file);
    assert.equal(e.tensor, tensor);
    assert.ok(e.message.includes(`'${file}'`), e.message);
    if (tensor !== undefined) assert.ok(e.message.includes(`tensor '${tensor}'`), e.message);
    assert.match(e.message, reason);
    return true;
  });
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
const CORRUPTIONS: {
  name: string;
  tensor?: string;
  reason: RegExp;
  make: (header: Header, data: Uint8Array, bytes: Uint8Array) => Uint8Array;
}[] = [
  {
    name: "shorter than the header length field",
    reason: /truncated: 5 bytes/,
    make: (_h, _d, bytes) => bytes.slice(0, 5),
  },
  {
    name: "a header length beyond the file",
    reason: /header length \d+ exceeds the \d+ bytes after it/,
    make: (_h, _d, bytes) => {
      const out = bytes.slice();
      new DataView(out.buffer).setBigUint64(0, 2n ** 63n, true);
      return out;
    },
  },
  {
    name: "a header that is not JSON",
    reason: /the header is not JSON/,
    make: (_h, data) => assemble('{"a": ', data),
  },
  {
    name: "a header that is a JSON array",
    reason: /the header is not a JSON object/,
    make: (_h, data) => assemble("[1, 2]", data),
  },
  {
    name: "truncated data",
    tensor: "c",
    reason: /data_offsets \[28, 36\] lie outside the 33 data bytes/,
    make: (_h, _d, bytes) => bytes.slice(0, bytes.length - 3),
  },
  {
    name: "offsets outside the data",
    tensor: "b",
    reason: /lie outside the 36 data bytes/,
    make: (h, data) => {
      h.b.data_offsets = [30, 42];
      return assemble(h, data);
    },
  },
  {
    name: "offsets out of order",
    tensor: "b",
    reason: /data_offsets \[28, 16\] are out of order/,
    make: (h, data) => {
      h.b.data_offsets = [28, 16];
      return assemble(h, data);
    },
  },
  {
    name: "overlapping offsets",
    tensor: "c",
    reason: /data_offsets \[20, 28\] overlap tensor 'b'/,
    make: (h, data) => {
      h.c.data_offsets = [20, 28];
      return assemble(h, data);
    },
  },
  {
    name: "a gap between tensors",
    tensor: "c",
    reason: /bytes 28\.\.30 before it belong to no tensor/,
    make: (h, data) => {
      h.c.data_offsets = [30, 38];
      const grown = new Uint8Array(38);
      grown.set(data);
      return assemble(h, grown);
    },
  },
  {
    name: "trailing bytes",
    reason: /4 bytes after the last tensor's data/,
    make: (h, data) => {
      const grown = new Uint8Array(data.length + 4);
      grown.set(data);
      return assemble(h, grown);
    },
  },
  {
    name: "a shape that does not match the byte count",
    tensor: "a",
    reason: /a float32 tensor of shape \[2,3\] needs 24 bytes, data_offsets \[0, 16\] hold 16/,
    make: (h, data) => {
      h.a.shape = [2, 3];
      return assemble(h, data);
    },
  },
  {
    name: "a dtype that does not match the byte count",
    tensor: "a",
    reason: /a int64 tensor of shape \[2,2\] needs 32 bytes/,
    make: (h, data) => {
      h.a.dtype = "I64";
      return assemble(h, data);
    },
  },
  {
    name: "a huge shape",
    tensor: "a",
    reason: /needs more than 36 bytes/,
    make: (h, data) => {
      h.a.shape = [2 ** 52, 2 ** 52];
      return assemble(h, data);
    },
  },
  {
    name: "an unknown dtype",
    tensor: "a",
    reason: /unsupported dtype "F64"/,
    make: (h, data) => {
      h.a.dtype = "F64";
      return assemble(h, data);
    },
  },
  {
    name: "a dtype other than the manifest's",
    tensor: "b",
    reason: /the file holds float32\[3\], the manifest says int32\[3\]/,
    make: (h, data) => {
      h.b.dtype = "F32";
      return assemble(h, data);
    },
  },
  {
    name: "a changed value",
    tensor: "b",
    reason: /SHA-256 differs from the manifest's/,
    make: (h, data) => {
      data[h.b.data_offsets[0] + 1] ^= 0x10;
      return assemble(h, data);
    },
  },
  {
    name: "a tensor missing from the file",
    tensor: "c",
    reason: /in the manifest but not in the file/,
    make: (h, data) => {
      delete h.c;
      return assemble(h, data.subarray(0, 28));
    },
  },
];

for (const c of CORRUPTIONS) {
  Deno.test(`corrupt checkpoint: ${c.name}`, async () => {
    await using saved = await savedSmall();
    const { dataPath, bytes, header, data, dir } = saved;
    // The saver writes the tensors in order a, b, c: 16, 12 and 8 bytes.
    assert.deepEqual(header.c.data_offsets, [28, 36]);
    await Deno.writeFile(dataPath, c.make(header, data.slice(), bytes));
    await assertCorrupt(dir, dataPath, c.tensor, c.reason);
  });
}

Deno.test("corrupt checkpoint: a variable the checkpoint lacks", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const a = model({ a: SMALL.a, b: SMALL.b });
  await using s = new ef.Session(a.g, { device: "REF" });
  await s.run([], {}, [a.init]);
  const path = await new Saver().save(s, dir, { step: 1 });
  await assertCorrupt(dir, `${path}.safetensors`, "c", /no such tensor in the checkpoint/);
  // And a variable of another shape than the checkpoint's.
  await assertCorrupt(
    dir,
    `${path}.safetensors`,
    "b",
    /holds int32\[3\], the variable is int32\[4\]/,
    { a: SMALL.a, b: Tensor.zeros("int32", [4]) },
  );
});

Deno.test("corrupt checkpoint: manifests and indexes name their file", async () => {
  await using saved = await savedSmall();
  const { dir, path } = saved;
  const manifestPath = `${path}.json`;
  const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
  const write = (m: unknown) => Deno.writeTextFile(manifestPath, JSON.stringify(m));

  await write({ ...manifest, tensors: [{ ...manifest.tensors[1], sha256: "x" }] });
  await assertCorrupt(dir, manifestPath, "b", /sha256 "x" is not 64 hex digits/);
  await write({ ...manifest, tensors: manifest.tensors.slice(0, 2) });
  await assertCorrupt(dir, `${path}.safetensors`, "c", /not in the manifest/);
  await write({ ...manifest, data: "../elsewhere.safetensors" });
  await assertCorrupt(dir, manifestPath, undefined, /is not a plain name/);
  await Deno.writeTextFile(manifestPath, "[]");
  await assertCorrupt(dir, manifestPath, undefined, /the manifest is not a JSON object/);
  await Deno.remove(manifestPath);
  await assertCorrupt(dir, manifestPath, undefined, /cannot be read/);

  await Deno.writeTextFile(`${dir}/checkpoint`, '{"format": "edgeflow.checkpoint-index"');
  await assertCorrupt(dir, `${dir}/checkpoint`, undefined, /the index is not JSON/);
  await Deno.writeTextFile(
    `${dir}/checkpoint`,
    JSON.stringify({ format: "edgeflow.checkpoint-index", version: 1, checkpoints: ["../x"] }),
  );
  await assertCorrupt(dir, `${dir}/checkpoint`, undefined, /"\.\.\/x" is not a name/);
  await using emptyDir = await tempDir();
  const empty = emptyDir.path;
  await assertCorrupt(empty, empty, undefined, /the directory holds no checkpoint/);
});

Deno.test("mutated files (bit flips, truncations) restore the saved values or fail cleanly", async () => {
  await using saved = await savedSmall();
  const { dir, path, bytes } = saved;
  const dataPath = `${path}.safetensors`;
  const manifestPath = `${path}.json`;
  const manifestBytes = await Deno.readFile(manifestPath);
  const b = model(zerosLike(SMALL));
  await using s = new ef.Session(b.g, { device: "REF" });
  const saver = new Saver();
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("flip"), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("truncate"), at: fc.nat(), bit: fc.constant(0) }),
  );
  const stats = { restored: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (
      inManifest,
      mutations,
    ) => {
      let target = (inManifest ? manifestBytes : bytes).slice();
      for (const m of mutations) {
        if (target.length === 0) break;
        const at = m.at % target.length;
        if (m.kind === "flip") target[at] ^= 1 << m.bit;
        else target = target.slice(0, at);
      }
      await Deno.writeFile(inManifest ? manifestPath : dataPath, target);
      await Deno.writeFile(
        inManifest ? dataPath : manifestPath,
        inManifest ? bytes : manifestBytes,
      );
      try {
        await saver.restore(s, dir);
      } catch (e) {
        assert.ok(e instanceof CheckpointError, `not a CheckpointError: ${e}`);
        stats.refused++;
        return;
      }
      // A mutation that leaves every checked byte intact (header padding, metadata) may pass;
      // then the values must be exactly the saved ones.
      assertSameValues(await readAll(s, b), SMALL);
      stats.restored++;
    }),
    fcParams(150),
  );
  assert.ok(stats.refused > 0, JSON.stringify(stats));
});

// ---- numpy reads it ------------------------------------------------------------------------

/** A reader using only json, hashlib and numpy: what a user without Edgeflow would write. */
const NUMPY_READER = `
import hashlib, json, struct, sys
import numpy as np
path = sys.argv[1]
manifest = json.load(open(path + ".json"))
buf = open(path + ".safetensors", "rb").read()
(n,) = struct.unpack("<Q", buf[:8])
header = json.loads(buf[8:8 + n])
types = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8", "U8": "u1", "I8": "i1", "BOOL": "?"}
out = {}
for t in manifest["tensors"]:
    e = header[t["name"]]
    begin, end = e["data_offsets"]
    raw = buf[8 + n + begin:8 + n + end]
    assert hashlib.sha256(raw).hexdigest() == t["sha256"], t["name"]
    if e["dtype"] == "BF16":  # numpy has no bfloat16: widen the bits to float32
        a = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
    else:
        a = np.frombuffer(raw, types[e["dtype"]])
    out[t["name"]] = {"dtype": e["dtype"], "shape": e["shape"], "values": [repr(v) for v in a.reshape(e["shape"]).ravel().tolist()]}
print(json.dumps({"step": manifest["step"], "tensors": out}))
`;

/** A value as the reader prints it (Python's repr) back as a number, bigint or boolean. */
function fromPythonRepr(repr: string): number | bigint | boolean {
  if (repr === "True" || repr === "False") return repr === "True";
  if (repr === "nan") return NaN;
  if (/^-?inf$/.test(repr)) return repr.startsWith("-") ? -Infinity : Infinity;
  return /^-?\d+$/.test(repr) ? BigInt(repr) : Number(repr);
}

/** Edgeflow's values in the same terms: bigint integers, booleans, float64 numbers. */
function expectedValues(t: ef.Tensor): (number | bigint | boolean)[] {
  if (t.dtype === "bool") return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.dtype === "int64") return Array.from(t.data as BigInt64Array);
  if (t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16") {
    return t.toNumbers();
  }
  return t.toNumbers().map((v) => BigInt(v));
}

Deno.test("Debian's numpy reads a checkpoint with a 20-line reader", async (t) => {
  const python = "/usr/bin/python3";
  const probe = await new Deno.Command(python, {
    args: ["-c", "import numpy"],
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  if (!probe.success) {
    const why = new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
    reportMissing(t, `${python} cannot import numpy (${why}); Debian's python3-numpy provides it`);
    return;
  }
  await using tmp = await tempDir();
  const dir = tmp.path;
  const values = allDtypes(5);
  const a = model(values);
  await using s = new ef.Session(a.g, { device: "WASM" });
  await s.run([], {}, [a.init]);
  const path = await new Saver().save(s, dir, { step: 5 });
  const reader = `${dir}/reader.py`;
  await Deno.writeTextFile(reader, NUMPY_READER);
  assert.ok(NUMPY_READER.trim().split("\n").length <= 24);
  const run = await new Deno.Command(python, { args: [reader, path], clearEnv: true }).output();
  assert.ok(run.success, new TextDecoder().decode(run.stderr));
  const read = JSON.parse(new TextDecoder().decode(run.stdout));
  assert.equal(read.step, 5);
  for (const [name, tensor] of Object.entries(values)) {
    const got = read.tensors[name];
    assert.ok(got, `numpy did not read ${name}`);
    assert.equal(got.dtype, ef.train.SAFETENSORS_DTYPE[tensor.dtype as ef.NumericDType]);
    assert.deepEqual(got.shape, tensor.shape);
    // Object.is per element: NaN equals NaN, -0 differs from 0.
    assert.deepEqual(got.values.map(fromPythonRepr), expectedValues(tensor), name);
  }
});
