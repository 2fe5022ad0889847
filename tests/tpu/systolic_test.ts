// The cycle-level systolic array against the tile-level model: the same bits (products summed
// in float32 in the MXU's tile order) and the same cycle counts as the closed form the timing
// model uses. The bound on the cycle difference is stated here and checked: 0 cycles.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import { TpuDevice } from "../../devices/tpu/device.ts";
import { mxuMatmul, mxuMatmulJs } from "../../devices/tpu/mxu.ts";
import { roundToBf16 } from "../../devices/tpu/numerics.ts";
import { simulateSystolic } from "../../devices/tpu/systolic.ts";
import { kernelTiming, mxuStreamCycles } from "../../devices/tpu/timing.ts";
import { seededRandom } from "../../core/testing/arbitrary.ts";
import { fcParams } from "../op_cases.ts";

/** The largest |simulated - estimated| cycles allowed; measured 0 on every case drawn. */
const CYCLE_BOUND = 0;

function bf16Matrix(rows: number, cols: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return roundToBf16(Float32Array.from({ length: rows * cols }, () => (rand() * 2 - 1) * 4));
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

function check(R: number, C: number, m: number, k: number, n: number, seed: number): number {
  const a = bf16Matrix(m, k, seed), b = bf16Matrix(k, n, seed + 1);
  const sim = simulateSystolic(a, b, m, k, n, R, C);
  assert.ok(sameBits(sim.out, mxuMatmulJs(a, b, m, k, n, R)), "systolic vs tile model");
  assert.ok(sameBits(sim.out, mxuMatmul(a, b, m, k, n, R)), "systolic vs WebAssembly");
  assert.equal(sim.macs, m * k * n);
  const tiles = Math.ceil(k / R) * Math.ceil(n / C);
  const diff = Math.abs(sim.cycles - mxuStreamCycles(tiles, m, R, C));
  assert.ok(diff <= CYCLE_BOUND, `${R}x${C} array, ${m}x${k}x${n}: ${diff} cycles apart`);
  return diff;
}

Deno.test("systolic 8x8: matmuls element by element equal the tile model, cycles agree", () => {
  const shapes = [[1, 1, 1], [8, 8, 8], [3, 8, 8], [9, 8, 8], [20, 20, 20], [5, 17, 9], [
    64,
    64,
    64,
  ]];
  let worst = 0;
  shapes.forEach(([m, k, n], i) => (worst = Math.max(worst, check(8, 8, m, k, n, i))));
  console.log(`  worst cycle difference: ${worst} (bound ${CYCLE_BOUND})`);
});

Deno.test("systolic R x C: any array size and matmul shape, bits and cycles", () => {
  let worst = 0;
  const dim = (max: number) => fc.integer({ min: 1, max });
  fc.assert(
    fc.property(dim(9), dim(9), dim(40), dim(40), dim(40), fc.nat(), (R, C, m, k, n, seed) => {
      worst = Math.max(worst, check(R, C, m, k, n, seed));
    }),
    fcParams(150),
  );
  console.log(`  worst cycle difference: ${worst} (bound ${CYCLE_BOUND})`);
});

Deno.test("systolic: the device's timing model gives one MXU the simulated cycles", () => {
  const device = new TpuDevice({ tensorCores: 1, mxusPerCore: 1, mxuRows: 8, mxuCols: 8 });
  for (const [m, k, n] of [[16, 24, 16], [5, 40, 3], [33, 8, 17]]) {
    const a = bf16Matrix(m, k, m), b = bf16Matrix(k, n, k);
    const sim = simulateSystolic(a, b, m, k, n, 8, 8);
    const t = kernelTiming(device.params, device.figures, { matmuls: [{ batch: 1, m, k, n }] });
    assert.equal(t.mxuCycles, sim.cycles);
  }
});

Deno.test("systolic: hazards are impossible under the sequencer (a deep stream of tiles)", () => {
  // Many tiles, few rows: weight loads, not data, set the pace; any overlap bug would throw.
  const a = bf16Matrix(1, 64, 7), b = bf16Matrix(64, 64, 8);
  const sim = simulateSystolic(a, b, 1, 64, 64, 4, 4);
  assert.equal(sim.cycles, mxuStreamCycles(16 * 16, 1, 4, 4));
});
