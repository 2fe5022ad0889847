// SummaryWriter's event files read back by the board's reader (tools/board/event_reader.ts),
// written apart from the writer: its own protobuf decoding, every CRC checked.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { crc32c, encodePng, SummaryWriter } from "../../summary.ts";
import { EventFileError, readEventFile } from "../../tools/board/event_reader.ts";

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Inflates a PNG's IDAT and undoes filter 0 rows: the pixels, for images written unfiltered. */
async function decodePng(png: Uint8Array) {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8, width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (at < png.length) {
    const len = v.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      width = v.getUint32(at + 8);
      height = v.getUint32(at + 12);
      channels = { 0: 1, 2: 3, 6: 4 }[data[9]]!;
    } else if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  const stream = new Blob(idat as Uint8Array<ArrayBuffer>[]).stream()
    .pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (stride + 1)], 0, "filter 0");
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, pixels };
}

Deno.test("CRC-32C: the check value of '123456789'", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});

Deno.test("PNG: an RGB image round-trips through an independent decode", async () => {
  const pixels = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) & 255);
  const png = await encodePng(pixels, 5, 3, 3);
  const back = await decodePng(png);
  assert.deepEqual([back.width, back.height, back.channels], [5, 3, 3]);
  assert.deepEqual(back.pixels, pixels);
});

Deno.test("summaries: scalar, histogram, image, text and graph read back with every CRC checked", async () => {
  await withDir(async (dir) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [2, 3], { name: "x" });
    ef.relu(ef.matMul(x, g.asDefault(() => ef.constant([[1], [2], [3]])), { name: "mm" }), {
      name: "y",
    });
    const writer = await SummaryWriter.create(dir);
    assert.match(writer.path, /\/events\.out\.tfevents\.\d{10}\.[^/]+$/);
    writer.graph(g);
    for (let step = 0; step < 3; step++) writer.scalar("loss", 1 / (step + 1), step);
    const weights = ef.tensor(Float32Array.from({ length: 100 }, (_, i) => i / 10), [10, 10]);
    writer.histogram("weights", weights, 2);
    const images = ef.tensor(Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => (i % 16) / 15), [
      2,
      4,
      4,
      1,
    ]);
    writer.image("inputs", images, 2);
    await writer.text("notes", "lr = **0.1**", 2);
    await writer.close();

    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(files.length, 1);
    const { events, truncated } = readEventFile(await Deno.readFile(writer.path));
    assert.equal(truncated, false);
    assert.equal(events[0].fileVersion, "brain.Event:2");
    assert.ok(Math.abs(events[0].wallTime - Date.now() / 1000) < 60);
    const graph = events.find((e) => e.graph)!.graph!;
    assert.deepEqual(graph.find((n) => n.name === "mm")!.inputs, ["x", "Const"]);
    assert.equal(graph.find((n) => n.name === "y")!.op, "Relu");
    const values = events.flatMap((e) => (e.values ?? []).map((v) => ({ step: e.step, ...v })));
    assert.deepEqual(
      values.filter((v) => v.tag === "loss").map((v) => [v.step, v.scalar]),
      [[0, 1], [1, 0.5], [2, Math.fround(1 / 3)]],
    );
    const h = values.find((v) => v.tag === "weights")!.histogram!;
    assert.deepEqual([h.min, h.max, h.num], [0, Math.fround(9.9), 100]);
    assert.ok(Math.abs(h.sum - 495) < 1e-4);
    assert.equal(h.bucket.length, 30);
    assert.equal(h.bucket.reduce((a, b) => a + b), 100);
    assert.equal(h.bucketLimit.at(-1), Math.fround(9.9));
    const imgs = values.filter((v) => v.image);
    assert.deepEqual(imgs.map((v) => v.tag), ["inputs/image/0", "inputs/image/1"]);
    const decoded = await decodePng(imgs[1].image!.png);
    assert.deepEqual([decoded.width, decoded.height, decoded.channels], [4, 4, 1]);
    assert.deepEqual(
      [...decoded.pixels],
      Array.from({ length: 16 }, (_, i) => Math.round((i / 15) * 255)),
    );
    const text = values.find((v) => v.tag === "notes")!;
    assert.deepEqual([text.pluginName, text.text], ["text", ["lr = **0.1**"]]);
  });
});

Deno.test("summaries: a flipped byte fails a CRC; a cut last record is dropped, not an error", async () => {
  await withDir(async (dir) => {
    const writer = await SummaryWriter.create(dir);
    writer.scalar("a", 1, 1);
    writer.scalar("a", 2, 2);
    await writer.close();
    const bytes = await Deno.readFile(writer.path);
    for (const at of [3, 10, 30, bytes.length - 2]) {
      const bad = bytes.slice();
      bad[at] ^= 0x40;
      assert.throws(() => readEventFile(bad), EventFileError, `byte ${at}`);
    }
    const cut = readEventFile(bytes.subarray(0, bytes.length - 5));
    assert.equal(cut.truncated, true);
    assert.deepEqual(cut.events.flatMap((e) => e.values ?? []).map((v) => v.scalar), [1]);
  });
});

Deno.test("summaries: bad arguments are EdgeflowErrors naming the tag; two writers, two files", async () => {
  await withDir(async (dir) => {
    await using a = await SummaryWriter.create(dir);
    await using b = await SummaryWriter.create(dir);
    assert.notEqual(a.path, b.path);
    assert.throws(() => a.scalar("", 1, 0), ef.EdgeflowError);
    assert.throws(() => a.scalar("loss", 1, -1), /summary 'loss': step must be a non-negative/);
    assert.throws(
      () => a.histogram("w", [1, NaN], 0),
      /summary 'w': a histogram of values holding NaN/,
    );
    assert.throws(
      () => a.image("im", ef.tensor(new Float32Array(8), [2, 2, 2]), 0),
      /summary 'im': images must be/,
    );
    await a.close();
    assert.throws(() => a.scalar("loss", 1, 0), /is closed/);
  });
});

Deno.test("summaries: a failed write that nobody awaited is thrown by the next call and close", async () => {
  await withDir(async (dir) => {
    const writer = await SummaryWriter.create(dir);
    // The file closed under the writer: its next write fails.
    (writer as unknown as { file: Deno.FsFile }).file.close();
    writer.scalar("loss", 1, 0); // not awaited: no unhandled rejection may follow
    await new Promise((r) => setTimeout(r, 10));
    assert.throws(() => writer.scalar("loss", 2, 1), /summary writer .*events\.out\.tfevents/);
    await assert.rejects(writer.flush(), ef.EdgeflowError);
    await assert.rejects(writer.close(), ef.EdgeflowError);
  });
});
