// Edgeflow's side of bench/grad.ts: `deno run -A bench/grad_edgeflow.ts <threads>` serves the
// parent's measuring commands (bench/wasm_engine.ts) on a WASM device with that many threads.
// Operands are variables (resident in WASM memory, as the peers' tensors are); each run fetches
// its result to the host.
import * as ef from "../mod.ts";
import { wasmPlugin } from "../kernels_wasm/plugin.ts";
import { serve } from "./wasm_engine.ts";
import { findGrad, type GradWorkload, operands } from "./grad_workloads.ts";

const threads = Number(Deno.args[0] ?? 1);
const device = (await wasmPlugin.create({ threads }))!;
if (device.threads !== threads) {
  throw new Error(`asked for ${threads} threads, got ${device.threads}`);
}

function build(g: ef.Graph, w: GradWorkload): ef.Output {
  const o = operands(w);
  const v = (t: { shape: number[]; data: Float32Array }, name: string) =>
    new ef.Variable(new ef.Tensor("float32", t.shape, t.data), { graph: g, name }).read();
  const sizes = (s: number[]) =>
    ef.constant(new ef.Tensor("int32", [4], Int32Array.from(s)), { graph: g });
  const conv = { strides: [1, 1, 1, 1], padding: "SAME" as const };
  switch (w.kind) {
    case "filter":
      return ef.conv2dBackpropFilter(v(o.x, "x"), sizes(o.f.shape), v(o.dy, "dy"), conv);
    case "input":
      return ef.conv2dBackpropInput(sizes(o.x.shape), v(o.f, "f"), v(o.dy, "dy"), conv);
    case "maxpool": {
      const pool = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" as const };
      const x = v(o.x, "x");
      return ef.maxPoolGrad(x, ef.maxPool(x, pool), v(o.dy, "dy"), pool);
    }
  }
}

await serve(async (w) => {
  const g = new ef.Graph();
  const y = build(g, w);
  const s = new ef.Session(g, {
    devices: [device],
    passes: { constantFolding: false, cse: false },
  });
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  return { run: () => s.run(y), release: () => s.close() };
}, findGrad);
await device[Symbol.asyncDispose]();
