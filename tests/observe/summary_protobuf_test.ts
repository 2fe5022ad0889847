// The writer's event files parsed by Google's protobuf library (Debian's python3-protobuf) with
// the schema declared in tests/observe/read_events.py: a third reader, outside TypeScript, that
// also checks the TFRecord CRCs and, with zlib, every PNG chunk CRC and the image data size.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { SummaryWriter } from "../../summary.ts";
import { reportMissing } from "../kernels/devices.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./read_events.py", import.meta.url).pathname;

Deno.test("summaries: Google's protobuf parser reads every event the writer wrote", async (t) => {
  const probe = await new Deno.Command(PYTHON, { args: ["-c", "import google.protobuf"] })
    .output().catch(() => undefined);
  if (!probe?.success) {
    return reportMissing(
      t,
      `${PYTHON} with google.protobuf is missing (apt-get install python3-protobuf)`,
    );
  }
  const dir = await Deno.makeTempDir();
  try {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [2], { name: "x" });
    g.withDevice("/device:TPU:0", () => ef.relu(x, { name: "y" }));
    const writer = await SummaryWriter.create(dir);
    writer.graph(g);
    writer.scalar("loss", 0.25, 7);
    writer.histogram("w", [1, 2, 2, 3], 7);
    writer.image(
      "rgb",
      ef.tensor(Uint8Array.from({ length: 2 * 3 * 5 * 3 }, (_, i) => i), [2, 3, 5, 3], "uint8"),
      7,
    );
    writer.text("note", "héllo", 7);
    await writer.close();
    const out = await new Deno.Command(PYTHON, { args: [SCRIPT, writer.path] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const events = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(events[0].file_version, "brain.Event:2");
    assert.deepEqual(events[1].graph_def, [
      ["x", "Placeholder", [], ""],
      ["y", "Relu", ["x"], "/device:TPU:0"],
    ]);
    const values = events.slice(2).map((e: { step: string; summary: { value: unknown[] } }) => {
      assert.equal(e.step, "7");
      return e.summary.value;
    }).flat();
    assert.deepEqual(values[0], { tag: "loss", simple_value: 0.25 });
    assert.deepEqual([values[1].histo.num, values[1].histo.sum, values[1].histo.sum_squares], [
      4,
      8,
      18,
    ]);
    assert.deepEqual(values[2].image.width, 5);
    assert.deepEqual(values.filter((v: { tag: string }) => v.tag.startsWith("rgb/")).length, 2);
    assert.deepEqual(events.flatMap((e: { png_ok?: boolean[] }) => e.png_ok ?? []), [true, true]);
    const text = values.at(-1);
    assert.equal(text.metadata.plugin_data.plugin_name, "text");
    assert.equal(
      new TextDecoder().decode(
        Uint8Array.from(atob(text.tensor.string_val[0]), (c) => c.charCodeAt(0)),
      ),
      "héllo",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
