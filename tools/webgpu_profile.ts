// Where a real model's WebGPU time goes: runs mobilenet_v2_mid once on the WEBGPU device while
// capturing every dispatch it records, then replays each dispatch alone (REPEAT times in one
// pass, one wait) and prints the time per program and per node, largest first. The replay reads
// and writes the run's own buffers, so values are garbage but costs are the kernels' own. Times
// are the process's CPU time (lavapipe's and llvmpipe's threads run in it), which other load on
// a shared machine disturbs less than wall time; the first line gives wall time too.
//   deno run -A --lock=deno.lock tools/webgpu_profile.ts [top]   (DENO_WEBGPU_BACKEND=vulkan|gl)
import process from "node:process";
import * as ef from "../mod.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";
import { Recorder } from "../devices/webgpu/recorder.ts";
import { mobilenetV2Mid } from "../tests/formats/real_models.ts";

const TOP = Number(Deno.args[0] ?? 25);
const REPEAT = Number(Deno.env.get("PROFILE_REPEAT") ?? 10);

interface Captured {
  node: string;
  op: string;
  program: string;
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  workgroups: [number, number, number];
}
let capturing = false;
const captured: Captured[] = [];
const dispatch = Recorder.prototype.dispatch;
Recorder.prototype.dispatch = function (d, pipeline, layout, context) {
  dispatch.call(this, d, pipeline, layout, context);
  if (!capturing) return;
  // deno-lint-ignore no-explicit-any
  const r = (this as any).recorded.at(-1);
  captured.push({ node: context.node ?? "?", op: context.op ?? "?", ...r });
};

const m = await mobilenetV2Mid();
const x = randomTensor("float32", m.input.shape, 1, { min: 0, max: 1 });
const model = await ef.loadGraphModel(m.path);
for (const n of model.graph.nodes) n.requestedDevice = ""; // all on WEBGPU (bench/webgpu_model.ts)
const output = model.outputs[0].name;
const s = new ef.Session(model.graph, { device: "WEBGPU" });
const dev = await s.device("WEBGPU") as unknown as { gpu: GPUDevice };
await s.run(output, { [m.input.name]: x });
capturing = true;
await s.run(output, { [m.input.name]: x });
capturing = false;
const gpu = dev.gpu;

async function time(list: Captured[], repeat: number): Promise<number> {
  const enc = gpu.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let i = 0; i < repeat; i++) {
    for (const c of list) {
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.group);
      pass.dispatchWorkgroups(...c.workgroups);
    }
  }
  pass.end();
  const c0 = process.cpuUsage();
  gpu.queue.submit([enc.finish()]);
  await gpu.queue.onSubmittedWorkDone();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function wall(list: Captured[], repeat: number): Promise<number> {
  const t0 = performance.now();
  await time(list, repeat);
  return performance.now() - t0;
}

const empty = Math.min(...await Promise.all([0, 1, 2].map(() => time([], 1))));
const whole = (await time(captured, 3) - empty) / 3;
const wallWhole = (await wall(captured, 3) - Math.min(await wall([], 1), await wall([], 1))) / 3;
const rows: { c: Captured; ms: number }[] = [];
for (const c of captured) {
  rows.push({ c, ms: Math.max(0, (await time([c], REPEAT) - empty) / REPEAT) });
}
const total = rows.reduce((a, r) => a + r.ms, 0);
console.log(
  `${captured.length} dispatches; all in one pass ${whole.toFixed(1)} ms CPU ` +
    `(${wallWhole.toFixed(1)} ms wall), ` +
    `sum of dispatches alone ${total.toFixed(1)} ms (empty wait ${empty.toFixed(2)} ms)`,
);
const byProgram = new Map<string, { ms: number; n: number }>();
for (const r of rows) {
  const key = `${r.c.op} / ${r.c.program}`;
  const e = byProgram.get(key) ?? { ms: 0, n: 0 };
  byProgram.set(key, { ms: e.ms + r.ms, n: e.n + 1 });
}
console.log("\nby op / program:");
for (const [k, v] of [...byProgram].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`${v.ms.toFixed(2).padStart(8)} ms  ${String(v.n).padStart(3)}x  ${k}`);
}
console.log(`\ntop ${TOP} dispatches:`);
for (const r of rows.sort((a, b) => b.ms - a.ms).slice(0, TOP)) {
  console.log(
    `${r.ms.toFixed(2).padStart(8)} ms  ${r.c.program.padEnd(22)} [${r.c.workgroups}]  ${r.c.node}`,
  );
}
await s.close();
Deno.exit(0);
