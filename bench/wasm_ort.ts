// onnxruntime-web's side of bench/wasm.ts: `deno run -A bench/wasm_ort.ts <threads>` serves the
// parent's measuring commands (bench/wasm_engine.ts) on ORT's WASM execution provider (SIMD) with
// that many threads. ORT's convolutions are NCHW, so its inputs are laid out that way; weights are
// initializers (ORT may pre-pack them), data inputs are fed to each run.
import * as ort from "npm:onnxruntime-web@1";
import { type OnnxGraph, onnxModel } from "./onnx_builder.ts";
import { serve } from "./wasm_engine.ts";
import { sameOut, values, type Workload } from "./wasm_workloads.ts";

const threads = Number(Deno.args[0] ?? 1);
ort.env.wasm.numThreads = threads;
ort.env.wasm.simd = true;
ort.env.logLevel = "error";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const input = (name: string, shape: number[]) => ({ name, shape });
const init = (name: string, shape: number[], seed: number) => ({
  name,
  shape,
  data: values(size(shape), seed),
});

/** TensorFlow's SAME padding as ONNX pads [top, left, bottom, right]. */
function samePads(h: number, k: number, s: number): number[] {
  const total = Math.max(0, (sameOut(h, s) - 1) * s + k - h), before = Math.floor(total / 2);
  return [before, before, total - before, total - before];
}

function graphOf(w: Workload): OnnxGraph {
  const n = w.n ?? 0, c = w.conv;
  const out = (shape: number[]) => [{ name: "y", shape }];
  switch (w.kind) {
    case "matmul":
      return {
        inputs: [input("a", [n, n]), input("b", [n, n])],
        outputs: out([n, n]),
        nodes: [{ op: "MatMul", inputs: ["a", "b"], outputs: ["y"] }],
      };
    case "conv":
    case "depthwise": {
      const o = sameOut(c!.h, c!.stride), group = w.kind === "depthwise" ? c!.c : 1;
      return {
        inputs: [input("x", [1, c!.c, c!.h, c!.w])],
        initializers: [init("f", [c!.out, c!.c / group, c!.k, c!.k], 2)],
        outputs: out([1, c!.out, o, o]),
        nodes: [{
          op: "Conv",
          inputs: ["x", "f"],
          outputs: ["y"],
          attrs: {
            group,
            kernel_shape: [c!.k, c!.k],
            strides: [c!.stride, c!.stride],
            pads: samePads(c!.h, c!.k, c!.stride),
          },
        }],
      };
    }
    case "add":
      return {
        inputs: [input("a", [n]), input("b", [n])],
        outputs: out([n]),
        nodes: [{ op: "Add", inputs: ["a", "b"], outputs: ["y"] }],
      };
    case "relu":
    case "softmax": {
      const shape = w.kind === "relu" ? [n] : [n, n];
      const op = w.kind === "relu" ? "Relu" : "Softmax";
      return {
        inputs: [input("x", shape)],
        outputs: out(shape),
        nodes: [{ op, inputs: ["x"], outputs: ["y"], attrs: op === "Softmax" ? { axis: -1 } : {} }],
      };
    }
    case "sum":
      return {
        inputs: [input("x", [n])],
        outputs: out([]),
        nodes: [{ op: "ReduceSum", inputs: ["x"], outputs: ["y"], attrs: { keepdims: 0 } }],
      };
    case "mlp":
      return {
        inputs: [input("x", [n, 784])],
        initializers: [
          init("w1", [784, 256], 2),
          init("b1", [256], 3),
          init("w2", [256, 10], 4),
          init("b2", [10], 5),
        ],
        outputs: out([n, 10]),
        nodes: [
          { op: "Gemm", inputs: ["x", "w1", "b1"], outputs: ["h"] },
          { op: "Relu", inputs: ["h"], outputs: ["r"] },
          { op: "Gemm", inputs: ["r", "w2", "b2"], outputs: ["y"] },
        ],
      };
    case "dispatch":
      return {
        inputs: [input("x", [1])],
        initializers: [init("one", [1], 2)],
        outputs: out([1]),
        nodes: Array.from({ length: w.chain! }, (_, i) => ({
          op: "Add",
          inputs: [i === 0 ? "x" : `t${i - 1}`, "one"],
          outputs: [i === w.chain! - 1 ? "y" : `t${i}`],
        })),
      };
  }
}

await serve(async (w) => {
  const g = graphOf(w);
  const session = await ort.InferenceSession.create(onnxModel(g), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const feeds = Object.fromEntries(
    g.inputs.map((x, i) => [
      x.name,
      new ort.Tensor("float32", values(size(x.shape), i + 1), x.shape),
    ]),
  );
  return {
    run: async () => {
      const r = await session.run(feeds);
      if (!r.y.data) throw new Error("no output");
    },
    release: () => session.release(),
  };
});
