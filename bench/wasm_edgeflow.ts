// Edgeflow's side of bench/wasm.ts: `deno run -A bench/wasm_edgeflow.ts <threads>` serves the
// parent's measuring commands (bench/wasm_engine.ts) on a WASM device with that many threads.
// Inputs and weights are variables (resident in WASM memory, as the peers' tensors are); each
// run fetches its result to the host.
import * as ef from "../mod.ts";
import { wasmPlugin } from "../kernels_wasm/plugin.ts";
import { serve } from "./wasm_engine.ts";
import { values, type Workload } from "./wasm_workloads.ts";

const threads = Number(Deno.args[0] ?? 1);
const device = (await wasmPlugin.create({ threads }))!;
if (device.threads !== threads) {
  throw new Error(`asked for ${threads} threads, got ${device.threads}`);
}

function variable(g: ef.Graph, shape: number[], seed: number): ef.Output {
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new ef.Variable(new ef.Tensor("float32", shape, values(size, seed)), {
    graph: g,
    name: `v${seed}`,
  });
  return v.read();
}

/** The graph of a workload; returns the fetched output. */
function build(g: ef.Graph, w: Workload): ef.Output {
  const n = w.n ?? 0;
  switch (w.kind) {
    case "matmul":
      return ef.matMul(variable(g, [n, n], 1), variable(g, [n, n], 2));
    case "conv": {
      const c = w.conv!;
      const x = variable(g, [1, c.h, c.w, c.c], 1), f = variable(g, [c.k, c.k, c.c, c.out], 2);
      return ef.conv2d(x, f, { strides: [1, c.stride, c.stride, 1], padding: "SAME" });
    }
    case "depthwise": {
      const c = w.conv!;
      const x = variable(g, [1, c.h, c.w, c.c], 1), f = variable(g, [c.k, c.k, c.c, 1], 2);
      return ef.depthwiseConv2d(x, f, { strides: [1, 1, 1, 1], padding: "SAME" });
    }
    case "add":
      return ef.add(variable(g, [n], 1), variable(g, [n], 2));
    case "relu":
      return ef.relu(variable(g, [n], 1));
    case "softmax":
      return ef.softmax(variable(g, [n, n], 1));
    case "sum":
      return ef.sum(variable(g, [n], 1), [0]);
    case "mlp": {
      const x = variable(g, [n, 784], 1);
      const h = ef.relu(
        ef.biasAdd(ef.matMul(x, variable(g, [784, 256], 2)), variable(g, [256], 3)),
      );
      return ef.biasAdd(ef.matMul(h, variable(g, [256, 10], 4)), variable(g, [10], 5));
    }
    case "dispatch": {
      const one = variable(g, [1], 2);
      let y = variable(g, [1], 1);
      for (let i = 0; i < w.chain!; i++) y = ef.add(y, one);
      return y;
    }
  }
}

await serve(async (w) => {
  const g = new ef.Graph();
  const y = build(g, w);
  // Folding would precompute the variable-free parts; the bench measures the kernels.
  const s = new ef.Session(g, {
    devices: [device],
    passes: { constantFolding: false, cse: false },
  });
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  return { run: () => s.run(y), release: () => s.close() };
});
await device[Symbol.asyncDispose]();
