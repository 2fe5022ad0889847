// The float32 approximations of kernels_wasm/src/simd_math.h over their whole domain: the ULP
// bounds the unary kernels declare as tolerance are checked here on dense grids (the equivalence
// suite draws only small values), along with the special values.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { defaultRegistry, type Tolerance } from "../core/kernel.ts";
import { wasmPlugin } from "../kernels_wasm/plugin.ts";
import { mismatch, ulpDistance } from "./kernels/compare.ts";

const device = (await wasmPlugin.create({ threads: 2 }))!;
globalThis.addEventListener("unload", () => void device[Symbol.asyncDispose]());

async function run(op: (x: ef.Output) => ef.Output, xs: Float32Array): Promise<Float32Array> {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [xs.length], { name: "x" });
  await using s = new ef.Session(g, { devices: [device] });
  return (await s.run(op(x), { x: new ef.Tensor("float32", [xs.length], xs) }))
    .data as Float32Array;
}

/** Evenly spaced points of [lo, hi], plus the float32 neighbours of a few landmarks. */
function grid(lo: number, hi: number, n: number, landmarks: number[] = []): Float32Array {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(lo + ((hi - lo) * i) / (n - 1));
  for (const m of landmarks) {
    for (let k = -3; k <= 3; k++) out.push(m * (1 + k * 2 ** -23));
  }
  return Float32Array.from(out);
}

const SIGMOID = (x: number) => 1 / (1 + Math.exp(-x));

const FUNCTIONS: {
  op: string;
  build: (x: ef.Output) => ef.Output;
  exact: (x: number) => number;
  points: Float32Array;
}[] = [
  { op: "Exp", build: ef.exp, exact: Math.exp, points: grid(-104, 89, 200001, [-87.34, 88.72, 0]) },
  {
    op: "Log",
    build: ef.log,
    exact: Math.log,
    points: Float32Array.from([...grid(1e-6, 4, 100001), ...grid(4, 1e30, 100001), 1e-40, 3e-45]),
  },
  { op: "Tanh", build: ef.tanh, exact: Math.tanh, points: grid(-12, 12, 200001, [0.625, -0.625]) },
  { op: "Sigmoid", build: ef.sigmoid, exact: SIGMOID, points: grid(-105, 30, 200001, [0]) },
];

function declared(op: string): Tolerance {
  return defaultRegistry.find(op, "WASM", "float32")!.tolerance as Tolerance;
}

for (const f of FUNCTIONS) {
  Deno.test(`WASM ${f.op}: within its declared ULPs on [${f.points[0]}, ...]`, async () => {
    const got = await run(f.build, f.points);
    const ulps = declared(f.op).ulps!;
    let worst = 0, at = 0;
    got.forEach((v, i) => {
      const d = ulpDistance(v, Math.fround(f.exact(f.points[i])));
      if (d > worst) (worst = d), (at = f.points[i]);
    });
    assert.ok(worst <= ulps, `${f.op}(${at}) is ${worst} ULPs off; the kernel declares ${ulps}`);
  });
}

Deno.test("WASM exp, log, tanh, sigmoid: special values", async () => {
  const xs = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 100, -200]);
  const cases: [(x: ef.Output) => ef.Output, (x: number) => number][] = [
    [ef.exp, Math.exp],
    [ef.log, Math.log],
    [ef.tanh, Math.tanh],
    [ef.sigmoid, SIGMOID],
  ];
  for (const [build, exact] of cases) {
    const got = await run(build, xs);
    xs.forEach((x, i) => {
      const want = Math.fround(exact(x));
      const ok = Object.is(got[i], want) || (Number.isNaN(want) && Number.isNaN(got[i])) ||
        (want === 0 && got[i] === 0) || ulpDistance(got[i], want) <= 3;
      assert.ok(ok, `${build.name}(${x}) = ${got[i]}, expected ${want}`);
    });
  }
});

Deno.test("WASM Softmax: rows spanning exp's whole range stay within the declared tolerance", async () => {
  // Logits 0 down to -120: exp(x - max) crosses into the subnormals, which flush to zero.
  const n = 4001, xs = Float32Array.from({ length: n }, (_, i) => -120 * (i / (n - 1)) ** 2);
  const got = await run(ef.softmax, xs);
  const want =
    ef.Softmax.reference([new ef.Tensor("float32", [n], xs)], { T: "float32" }, null!)[0];
  const kernel = defaultRegistry.find("Softmax", "WASM", "float32")!;
  const tol = (kernel.tolerance as (c: unknown) => Tolerance)({
    inputs: [new ef.Tensor("float32", [n], xs)],
    attrs: { T: "float32" },
  });
  const why = mismatch(new ef.Tensor("float32", [n], got), want, tol);
  assert.equal(why, undefined, why);
});
