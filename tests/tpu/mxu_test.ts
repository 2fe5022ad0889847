// The matrix unit's arithmetic: the embedded WebAssembly equals the plain loops bit for bit and
// is built from the current C source; bfloat16 rounding is round-to-nearest-even; known values
// show the input rounding and the float32 tile-order accumulation; depthwise convolutions sum
// as the block-diagonal matmul would.
import assert from "node:assert/strict";
import { float32ToBfloat16 } from "../../core/dtype.ts";
import { convGeometry } from "../../core/ops/conv_geometry.ts";
import { randomTensor, seededRandom } from "../../core/testing/arbitrary.ts";
import { depthwiseGroup, depthwiseSums } from "../../devices/tpu/kernels/conv.ts";
import { mxuMatmul, mxuMatmulJs, mxuUsesWasm } from "../../devices/tpu/mxu.ts";
import { roundToBf16 } from "../../devices/tpu/numerics.ts";
import { MXU_SOURCE_SHA256 } from "../../devices/tpu/wasm/mxu_wasm.ts";
import * as ef from "../../mod.ts";

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length &&
    a.every((v, i) => Object.is(v, b[i]) || (v !== v && b[i] !== b[i]));
}

Deno.test("mxu: the embedded module is built from the current mxu.c (deno task build:tpu)", async () => {
  const source = await Deno.readFile(new URL("../../devices/tpu/wasm/mxu.c", import.meta.url));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", source));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, MXU_SOURCE_SHA256, "mxu_wasm.ts is stale: run deno task build:tpu");
  assert.ok(mxuUsesWasm(), "the WebAssembly MXU must load here");
});

Deno.test("mxu: WebAssembly and plain loops agree bit for bit, specials included", () => {
  const rand = seededRandom(3);
  const specials = [Infinity, -Infinity, NaN, 2 ** -130, 3e38, -0];
  for (
    const [m, k, n, kt] of [[1, 1, 1, 128], [5, 300, 7, 128], [130, 129, 70, 128], [17, 33, 9, 8], [
      4,
      0,
      3,
      8,
    ]]
  ) {
    const a = roundToBf16(Float32Array.from({ length: m * k }, () => rand() * 8 - 4));
    const b = roundToBf16(Float32Array.from({ length: k * n }, () => rand() * 8 - 4));
    if (m * k > 10) specials.forEach((s, i) => (a[(i * 7) % (m * k)] = s));
    assert.ok(
      sameBits(mxuMatmul(a, b, m, k, n, kt), mxuMatmulJs(a, b, m, k, n, kt)),
      `${m}x${k}x${n}`,
    );
  }
});

Deno.test("mxu: bfloat16 rounding is core's round-to-nearest-even, ties, NaN and overflow included", () => {
  const rand = seededRandom(11);
  const bits = Uint32Array.from({ length: 20000 }, () => Math.floor(rand() * 2 ** 32));
  bits.set([0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800000, 0xff800001, 0x00008000, 0x80000000]);
  const values = new Float32Array(bits.buffer);
  const rounded = roundToBf16(values);
  const out = new Uint32Array(rounded.buffer);
  for (let i = 0; i < values.length; i++) {
    const want = float32ToBfloat16(values[i]) << 16;
    assert.equal(out[i] >>> 0, want >>> 0, `bits ${bits[i].toString(16)}`);
  }
});

/** Runs a 1-row MatMul on a TPU configured with `options`. */
async function tpuMatMul(a: number[], b: number[], options: Record<string, unknown> = {}) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [1, a.length], { name: "x" });
  const w = ef.placeholder(g, "float32", [b.length, 1], { name: "w" });
  await using s = new ef.Session(g, { device: "TPU", deviceOptions: { TPU: options } });
  const y = await s.run(ef.matMul(x, w), { x: [a], w: b.map((v) => [v]) });
  return y.toNumbers()[0];
}

Deno.test("mxu known values: float32 inputs round to nearest even bfloat16", async () => {
  // bfloat16 keeps 7 fraction bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and goes to the
  // even 1; 1 + 3·2^-8 is a tie between 1 + 2^-7 and 1 + 2^-6 and goes to the even 1 + 2^-6.
  // (torch.tensor(1 + 3 * 2**-8).to(torch.bfloat16) is 1.015625 as well.)
  assert.equal(await tpuMatMul([1 + 2 ** -8], [1]), 1);
  assert.equal(await tpuMatMul([1 + 3 * 2 ** -8], [1]), 1 + 2 ** -6);
  assert.equal(await tpuMatMul([1 + 2 ** -7], [3]), 3 + 3 * 2 ** -7);
});

Deno.test("mxu known values: float32 sums, tile by tile", async () => {
  // Σ of 1 and four 2^-24: exactly 1 + 2^-22, which float64 keeps. Summed in float32 in one
  // 128-row tile, each 1 + 2^-24 is a tie that rounds back to 1: the result is 1. With 2-row
  // tiles the partials are 1 (1 + 2^-24 → 1), 2^-23 and 2^-24; the accumulator adds 1 + 2^-23
  // exactly, then 2^-24 is a tie between 1 + 2^-23 and 1 + 2^-22, which goes to the even one.
  const a = [1, 2 ** -24, 2 ** -24, 2 ** -24, 2 ** -24], ones = [1, 1, 1, 1, 1];
  assert.equal(await tpuMatMul(a, ones), 1);
  assert.equal(await tpuMatMul(a, ones, { mxuRows: 2, mxuCols: 2 }), 1 + 2 ** -22);
});

Deno.test("mxu: depthwise sums equal the block-diagonal matmul on the MXU, bit for bit", () => {
  const rand = seededRandom(5);
  for (const [c, mult, R, C] of [[5, 2, 8, 4], [3, 1, 4, 8], [6, 3, 2, 6], [4, 1, 128, 128]]) {
    const x = randomTensor("float32", [2, 5, 4, c], Math.floor(rand() * 1e6));
    const w = randomTensor("float32", [3, 2, c, mult], Math.floor(rand() * 1e6));
    const attrs = { strides: [1, 2, 1, 1], padding: "SAME", dilations: [1, 1, 2, 1] };
    const g = convGeometry("depthwise", x.shape, w.shape, attrs);
    const xs = roundToBf16(x.data as Float32Array), ws = roundToBf16(w.data as Float32Array);
    const G = depthwiseGroup(c, mult, C);
    const direct = depthwiseSums(g, xs, ws, G, R);
    // The same convolution as block-diagonal matmuls: one per group of G channels.
    const taps = 6, rows = g.batch * g.outHeight * g.outWidth;
    const expected = new Float32Array(direct.length);
    for (let c0 = 0; c0 < c; c0 += G) {
      const gc = Math.min(G, c - c0), K = taps * G, N = G * mult;
      const patches = new Float32Array(rows * K), weights = new Float32Array(K * N);
      let r = 0;
      for (let b = 0; b < g.batch; b++) {
        for (let oh = 0; oh < g.outHeight; oh++) {
          for (let ow = 0; ow < g.outWidth; ow++, r++) {
            for (let t = 0; t < taps; t++) {
              const ih = oh * g.strideHeight - g.padTop + Math.floor(t / 2) * g.dilationHeight;
              const iw = ow * g.strideWidth - g.padLeft + (t % 2) * g.dilationWidth;
              if (ih < 0 || ih >= g.inHeight || iw < 0 || iw >= g.inWidth) continue;
              for (let j = 0; j < gc; j++) {
                patches[r * K + t * G + j] =
                  xs[((b * g.inHeight + ih) * g.inWidth + iw) * c + c0 + j];
              }
            }
          }
        }
      }
      for (let t = 0; t < taps; t++) {
        for (let j = 0; j < gc; j++) {
          for (let q = 0; q < mult; q++) {
            weights[(t * G + j) * N + j * mult + q] = ws[(t * c + c0 + j) * mult + q];
          }
        }
      }
      const out = mxuMatmulJs(patches, weights, rows, K, N, R);
      for (let p = 0; p < rows; p++) {
        for (let j = 0; j < gc * mult; j++) expected[p * c * mult + c0 * mult + j] = out[p * N + j];
      }
    }
    assert.ok(sameBits(direct, expected), `channels ${c}, multiplier ${mult}, ${R}x${C}`);
  }
});
