// ONNX's training optimizers (ai.onnx.preview.training) import as arithmetic: Adagrad, Momentum
// (standard and Nesterov, the first update with beta 1) and Adam (bias-corrected after the first
// update) update two tensors each, against ONNX's formulas computed here in float64. onnxruntime-web
// has no kernels for this domain; Debian's node tests check them too (tools/onnx_conformance.ts).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { loadOnnxModel } from "../../formats.ts";
import type { OnnxAttrValue } from "../../core/formats/onnx/onnx_encode.ts";
import { f32, type Feed, i64, modelOf, viaEdgeflowAll } from "./onnx_vs_ort.ts";
import { TRAINING_DOMAIN } from "../../core/formats/onnx/onnx_ops_training.ts";

const X = [[1.5, -2], [0.25]], G = [[-0.5, 3], [2]], S1 = [[0.5, 1], [4]], S2 = [[2, 0.1], [1]];
const flt = (v: number) => ({ float: v });

const vector = (v: number[]) => f32([v.length], v);

/** Runs the optimizer on (X, G, state groups) with R = 0.1 and update count t, on WASM. */
async function run(
  op: string,
  attrs: Record<string, OnnxAttrValue>,
  states: number[][][],
  t: number,
): Promise<number[][]> {
  const groups = [X, G, ...states];
  const feeds: Feed[] = [
    ["R", f32([], [0.1])],
    ["T", i64([], [t])],
    ...groups.flatMap((g, k) => g.map((v, i): Feed => [`in${k}_${i}`, vector(v)])),
  ];
  const outs = [X, ...states].flatMap((g, k) => g.map((_, i) => `out${k}_${i}`));
  const node = {
    op,
    name: "opt",
    domain: TRAINING_DOMAIN,
    inputs: feeds.map(([n]) => n),
    outputs: outs,
    attrs,
  };
  const bytes = modelOf(node, feeds, outs.map(() => ({ dtype: "float32" as const, rank: 1 })));
  return (await viaEdgeflowAll(bytes, feeds, "WASM")).map((y) => y.data);
}

function close(got: number[][], want: number[][]) {
  assert.equal(got.length, want.length);
  got.forEach((g, i) =>
    g.forEach((v, j) =>
      assert.ok(
        Math.abs(v - want[i][j]) <= 1e-6 * (1 + Math.abs(want[i][j])),
        `${i}[${j}]: ${v} vs ${want[i][j]}`,
      )
    )
  );
}

/** Each tensor's [new X, new states...], regrouped as the outputs come: X's, then each state's. */
function expected(per: (x: number, g: number, s: number[]) => number[]): number[][] {
  const rows = X.map((x, i) => x.map((_, j) => per(x[j], G[i][j], [S1[i][j], S2[i][j]])));
  const outs = rows[0][0].length;
  return Array.from({ length: outs }, (_, k) => rows.map((r) => r.map((e) => e[k]))).flat();
}

Deno.test("ONNX Adagrad imports as ONNX's formula", async () => {
  const [decay, eps, norm, t] = [0.1, 1e-5, 0.01, 3];
  const r = 0.1 / (1 + t * decay);
  const want = expected((x, g0, [h0]) => {
    const g = norm * x + g0, h = h0 + g * g;
    return [x - r * g / (Math.sqrt(h) + eps), h];
  });
  const got = await run(
    "Adagrad",
    {
      decay_factor: flt(decay),
      epsilon: flt(eps),
      norm_coefficient: flt(norm),
    },
    [S1],
    t,
  );
  close(got, want);
});

for (const mode of ["standard", "nesterov"]) {
  for (const t of [0, 2]) {
    Deno.test(`ONNX Momentum (${mode}) at update ${t} imports as ONNX's formula`, async () => {
      const [alpha, beta, norm] = [0.9, 0.5, 0.02];
      const b = t > 0 ? beta : 1;
      const want = expected((x, g0, [v0]) => {
        const g = norm * x + g0, v = alpha * v0 + b * g;
        return [x - 0.1 * (mode === "standard" ? v : g + alpha * v), v];
      });
      const got = await run(
        "Momentum",
        {
          alpha: flt(alpha),
          beta: flt(beta),
          mode,
          norm_coefficient: flt(norm),
        },
        [S1],
        t,
      );
      close(got, want);
    });
  }
}

for (const t of [0, 3]) {
  Deno.test(`ONNX Adam at update ${t} imports as ONNX's formula`, async () => {
    const [alpha, beta, eps, norm, post] = [0.9, 0.99, 1e-3, 0.01, 0.05];
    const r = t > 0 ? 0.1 * Math.sqrt(1 - beta ** t) / (1 - alpha ** t) : 0.1;
    const want = expected((x, g0, [v0, h0]) => {
      const g = norm * x + g0;
      const v = alpha * v0 + (1 - alpha) * g, h = beta * h0 + (1 - beta) * g * g;
      return [(1 - post) * (x - r * v / (Math.sqrt(h) + eps)), v, h];
    });
    const got = await run(
      "Adam",
      {
        alpha: flt(alpha),
        beta: flt(beta),
        epsilon: flt(eps),
        norm_coefficient: flt(norm),
        norm_coefficient_post: flt(post),
      },
      [S1, S2],
      t,
    );
    close(got, want);
  });
}

Deno.test("ONNX Momentum without its required attributes is refused by node", async () => {
  const feeds: Feed[] = [
    ["R", f32([], [0.1])],
    ["T", i64([], [1])],
    ...["x", "g", "v"].map((n): Feed => [n, vector([1])]),
  ];
  const node = {
    op: "Momentum",
    name: "opt",
    domain: TRAINING_DOMAIN,
    inputs: feeds.map(([n]) => n),
    outputs: ["x2", "v2"],
    attrs: { alpha: flt(0.9) },
  };
  const out = { dtype: "float32" as const, rank: 1 };
  const bytes = modelOf(node, feeds, [out, out]);
  await assert.rejects(() => loadOnnxModel(bytes, { file: "o.onnx" }), (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError, String(e));
    assert.match(e.message, /o\.onnx: .*required attribute 'beta' is missing/);
    return true;
  });
});
