// ONNX Einsum gives onnxruntime-web's outputs on WASM and REF: matrix products with batch dims,
// contractions over several labels, traces and diagonals, sums, transposes, implicit outputs,
// ellipses that broadcast, outer products and three operands.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { loadOnnxModel } from "../../formats.ts";
import { type Case, compareWithOrt, f32, type Feed, modelOf } from "./onnx_vs_ort.ts";

/** Deterministic values in [-2, 2). */
function values(shape: number[], seed: number): ef.Tensor {
  let s = seed * 2654435761 >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  return f32(
    shape,
    Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 30 - 2;
    }),
  );
}

const einsum = (equation: string, shapes: number[][], rank: number): Case => {
  const names = shapes.map((_, i) => `x${i}`);
  return {
    name: `Einsum '${equation}' of ${shapes.map((s) => `[${s}]`).join(", ")}`,
    node: { op: "Einsum", name: "e", inputs: names, outputs: ["y"], attrs: { equation } },
    feeds: shapes.map((s, i): Feed => [names[i], values(s, i + 1)]),
    out: { dtype: "float32", rank },
  };
};

compareWithOrt([
  einsum("bij,bjk->bik", [[5, 2, 3], [5, 3, 4]], 3),
  einsum("ij,jk", [[3, 4], [4, 2]], 2),
  einsum("i,i", [[5], [5]], 0),
  einsum("i,j->ij", [[3], [4]], 2),
  einsum("ij->i", [[3, 4]], 1),
  einsum("ij->ji", [[3, 4]], 2),
  einsum("ii->i", [[4, 4]], 1),
  einsum("ii", [[4, 4]], 0),
  einsum("...ii->...i", [[3, 5, 5]], 2),
  einsum("abcd,adbe->acbe", [[2, 3, 4, 5], [2, 5, 3, 6]], 4),
  einsum("bhqd,bhkd->bhqk", [[2, 3, 4, 8], [2, 3, 5, 8]], 4),
  einsum("...ij,...jk->...ik", [[2, 1, 3, 4], [2, 5, 4, 2]], 4),
  einsum("ijk,jil->kl", [[2, 3, 4], [3, 2, 5]], 2),
  einsum("ij,jk,kl->il", [[2, 3], [3, 4], [4, 2]], 2),
  einsum("bi,bi->b", [[4, 6], [4, 6]], 1),
]);

Deno.test("ONNX Einsum equations that do not fit their inputs are refused by node", async () => {
  const bad: [string, number[][], RegExp][] = [
    ["ij,jk->ik", [[2, 3]], /has 2 inputs, the node 1/],
    ["ijk->i", [[2, 3]], /does not fit an input of rank 2/],
    ["ij->iz", [[2, 3]], /output label 'z' is in no input/],
    ["ii->i", [[2, 3]], /label 'i' has dims 2 and 3/],
    ["i1->i", [[2, 3]], /not a letter/],
  ];
  for (const [equation, shapes, message] of bad) {
    const c = einsum(equation, shapes, 1);
    await assert.rejects(
      () => loadOnnxModel(modelOf(c.node, c.feeds, c.out), { file: "e.onnx" }),
      (e: Error) => {
        assert.ok(e instanceof ef.EdgeflowError, String(e));
        assert.match(e.message, message);
        return true;
      },
    );
  }
});
