// Step traces: `trace: true` records nodes, devices, output bytes, copies and the TPU's simulated
// clock, and toChromeTrace gives Chrome's trace event format with one process per device.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

/** x (fed) → matmul on the TPU → relu on WASM: one copy TPU→WASM. */
function twoDeviceGraph() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4, 8], { name: "x" });
  const w = g.asDefault(() => ef.constant(ef.tensor(new Float32Array(8 * 3).fill(0.5), [8, 3])));
  const m = g.withDevice("/device:TPU:0", () => ef.matMul(x, w, { name: "m" }));
  const y = g.withDevice("/device:WASM:0", () => ef.relu(m, { name: "y" }));
  return { g, x, y };
}

const ones = ef.tensor(new Float32Array(32).fill(1), [4, 8]);

/**
 * How `tensor` reached another device: an executor copy (one plan for all devices), or a _Send
 * and _Recv pair sharing its name (per-device partitions): from, to, bytes and when it landed.
 */
function crossing(trace: ef.StepTrace, tensor: string) {
  const copy = trace.transfers.find((t) => t.tensor === tensor);
  if (copy) {
    return { from: copy.from, to: copy.to, bytes: copy.bytes, start: copy.start, end: copy.end };
  }
  const send = trace.steps.find((st) => st.rendezvous === tensor && /Send$/.test(st.op));
  const recv = trace.steps.find((st) => st.rendezvous === tensor && /Recv$/.test(st.op));
  assert.ok(send && recv, `${tensor} crossed devices neither by a copy nor by Send/Recv`);
  return {
    from: send.device,
    to: recv.device,
    bytes: recv.outputBytes!,
    start: send.start,
    end: recv.end,
  };
}

Deno.test("trace: nodes on their devices, output bytes, a copy, TPU simulated cycles", async () => {
  const { g, x, y } = twoDeviceGraph();
  await using s = new ef.Session(g, { passes: { constantFolding: false } });
  const metadata = { steps: [] } as ef.RunMetadata;
  const out = await s.run(y, [[x, ones]], [], { trace: true, metadata });
  assert.deepEqual([...out.data as Float32Array].slice(0, 3), [4, 4, 4]);
  const trace = metadata.trace!;
  assert.ok(trace.startedAt > 1.6e12, "the start is an epoch time in ms");
  const m = trace.steps.find((st) => st.node === "m")!;
  const relu = trace.steps.find((st) => st.node === "y")!;
  assert.match(m.device, /TPU:0$/);
  assert.match(relu.device, /WASM:0$/);
  assert.equal(m.outputBytes, 4 * 3 * 4);
  assert.ok(m.deviceStats!.endCycle > m.deviceStats!.startCycle);
  assert.ok(relu.start >= m.end, "relu starts after the product it reads");
  const copy = crossing(trace, "m:0");
  assert.equal(copy.bytes, 48);
  assert.match(copy.from, /TPU/);
  assert.match(copy.to, /WASM/);
  assert.ok(copy.end >= copy.start && copy.start >= m.end - 1e-6);

  const chrome = ef.toChromeTrace(trace);
  const names = chrome.traceEvents.filter((e) => e.name === "process_name")
    .map((e) => e.args!.name as string);
  assert.ok(names.some((n) => /TPU:0$/.test(n)));
  assert.ok(names.some((n) => /WASM:0$/.test(n)));
  assert.ok(names.some((n) => /TPU:0 \(simulated\)$/.test(n)), "the simulated clock's own track");
  const pidOf = (re: RegExp) =>
    chrome.traceEvents.find((e) => e.name === "process_name" && re.test(e.args!.name as string))!
      .pid;
  const slices = chrome.traceEvents.filter((e) => e.ph === "X" && e.name === "m");
  assert.deepEqual(slices.map((e) => e.pid).sort(), [pidOf(/TPU:0$/), pidOf(/simulated/)].sort());
  const sim = slices.find((e) => e.pid === pidOf(/simulated/))!;
  assert.ok(
    Math.abs(sim.dur! - m.deviceStats!.cycles / 1.05e9 * 1e6) < 1e-6,
    "simulated µs = cycles / clock",
  );
  // The flow from the product on the TPU to its copy into WASM.
  const starts = chrome.traceEvents.filter((e) => e.ph === "s" && e.pid === pidOf(/TPU:0$/));
  const ends = chrome.traceEvents.filter((e) => e.ph === "f" && e.pid === pidOf(/WASM:0$/));
  assert.ok(starts.some((st) => ends.some((e) => e.id === st.id)));
  // A JSON round trip is what Perfetto reads.
  assert.deepEqual(JSON.parse(JSON.stringify(chrome)), chrome);
});

Deno.test("trace: Send and Recv sharing a tensor_name are joined by a flow", () => {
  const chrome = ef.toChromeTrace({
    startedAt: 0,
    transfers: [],
    steps: [
      { node: "s", op: "_Send", device: "A", start: 0, end: 1, rendezvous: "t:0" },
      { node: "r", op: "_Recv", device: "B", start: 1, end: 2, rendezvous: "t:0" },
      { node: "q", op: "_Recv", device: "B", start: 1, end: 2, rendezvous: "other" },
    ],
  });
  const flows = chrome.traceEvents.filter((e) => e.ph === "s" || e.ph === "f");
  assert.equal(flows.length, 2);
  assert.equal(flows[0].id, flows[1].id);
  // Send and Recv sit on their devices' transfer threads: a Recv's wait is no kernel's work.
  const slices = chrome.traceEvents.filter((e) => e.ph === "X");
  assert.deepEqual(slices.map((e) => e.tid), [1, 1, 1]);
  assert.deepEqual(flows.map((e) => e.tid), [1, 1]);
});

Deno.test("trace: saveChromeTrace writes the JSON in place; trace without metadata is refused", async () => {
  const { g, x, y } = twoDeviceGraph();
  await using s = new ef.Session(g);
  await assert.rejects(
    s.run(y, [[x, ones]], [], { trace: true }),
    (e: unknown) =>
      e instanceof ef.EdgeflowError && /pass \{ trace: true, metadata/.test(e.message),
  );
  await assert.rejects(
    s.run(y, [[x, ones]], [], { trace: 1 } as never),
    /option 'trace' must be a boolean/,
  );
  await assert.rejects(s.run(y, [[x, ones]], [], { traec: true } as never), /unknown run option/);
  const metadata = { steps: [] } as ef.RunMetadata;
  await s.run(y, [[x, ones]], [], { trace: true, metadata });
  const dir = await Deno.makeTempDir();
  try {
    await ef.saveChromeTrace(`${dir}/step.json`, metadata.trace!);
    const read = JSON.parse(await Deno.readTextFile(`${dir}/step.json`));
    assert.ok(read.traceEvents.some((e: { name: string }) => e.name === "y"));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["step.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace: a kernel's span excludes the wait for its inputs (ready ≤ start)", async () => {
  const { g, x, y } = twoDeviceGraph();
  await using s = new ef.Session(g, { passes: { constantFolding: false } });
  const metadata = { steps: [] } as ef.RunMetadata;
  await s.run(y, [[x, ones]], [], { trace: true, metadata });
  const trace = metadata.trace!;
  for (const st of trace.steps) assert.ok(st.ready! <= st.start && st.start <= st.end, st.node);
  // relu's input comes from the TPU: its kernel starts after the value landed.
  const relu = trace.steps.find((st) => st.node === "y")!;
  const copy = crossing(trace, "m:0");
  assert.ok(relu.start >= copy.end, `relu starts ${relu.start}, the copy ends ${copy.end}`);
});

Deno.test("trace: kernels of one thread never overlap, though their completions are seen late", async () => {
  // Two REF branches whose inputs arrive by readback from WASM: each kernel runs in a microtask,
  // and one's completion is seen only after the other ran.
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [64, 64], { name: "x" });
  const a = g.withDevice("/device:WASM:0", () => ef.relu(x, { name: "a" }));
  const b = g.withDevice("/device:WASM:0", () => ef.neg(x, { name: "b" }));
  const ra = g.withDevice("/device:REF:0", () => ef.matMul(a, a, { name: "ra" }));
  const rb = g.withDevice("/device:REF:0", () => ef.matMul(b, b, { name: "rb" }));
  await using s = new ef.Session(g, { device: "WASM" });
  const metadata = { steps: [] } as ef.RunMetadata;
  const value = ef.tensor(Float32Array.from({ length: 4096 }, (_, i) => i % 7), [64, 64]);
  await s.run([ra, rb], [[x, value]], [], { trace: true, metadata });
  const ref = metadata.trace!.steps.filter((st) => /REF/.test(st.device) && st.op === "MatMul")
    .sort((p, q) => p.start - q.start);
  assert.equal(ref.length, 2);
  assert.ok(
    ref[0].end <= ref[1].start,
    `${ref[0].node} ends ${ref[0].end}, ${ref[1].node} starts ${ref[1].start}`,
  );
});
