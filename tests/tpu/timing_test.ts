// The tile-level timing model and the simulated clock, on figures worked out by hand.
import assert from "node:assert/strict";
import { SimClock } from "../../devices/tpu/clock.ts";
import { figuresOf, TPU_V4 } from "../../devices/tpu/params.ts";
import {
  kernelTiming,
  matmulHbmBytes,
  matmulMxuCycles,
  mxuStreamCycles,
  transferCycles,
  vpuCycles,
} from "../../devices/tpu/timing.ts";

const p = TPU_V4, f = figuresOf(TPU_V4);

Deno.test("MXU stream: a tile per max(rows, R) cycles, plus the array's fill and drain", () => {
  assert.equal(mxuStreamCycles(1, 128, 128, 128), 128 + 128 + 128);
  assert.equal(mxuStreamCycles(4, 1000, 128, 128), 3 * 1000 + 1000 + 256);
  assert.equal(mxuStreamCycles(4, 16, 128, 128), 3 * 128 + 16 + 256, "weight loads pace it");
  assert.equal(mxuStreamCycles(0, 16, 128, 128), 0);
});

Deno.test("matmul on 8 MXUs: large squares reach the peak, small ones split their rows", () => {
  const big = { batch: 1, m: 4096, k: 4096, n: 4096 };
  const cycles = matmulMxuCycles(p, f.mxus, big);
  // 32 x 32 tiles over 8 MXUs: 128 tiles of 4096 rows each.
  assert.equal(cycles, mxuStreamCycles(128, 4096, 128, 128));
  const achieved = (2 * 4096 ** 3) / (cycles / p.clockHz);
  assert.ok(achieved / f.peakFlops > 0.999);
  // One tile, eight MXUs: each streams 16 of the 128 rows.
  assert.equal(matmulMxuCycles(p, f.mxus, { batch: 1, m: 128, k: 128, n: 128 }), 16 + 256);
});

Deno.test("matmul HBM traffic: blocks as large as VMEM allows, operands re-read per block", () => {
  // 4096³ float32: 1024 x 1024 blocks fit 16 MiB with K slices of 512 (12 MiB), so A and B are
  // each read 4 times and C written once.
  const s = { batch: 1, m: 4096, k: 4096, n: 4096 };
  const mat = 4096 * 4096 * 4;
  assert.equal(matmulHbmBytes(p, s, 4, 4), 4 * mat + 4 * mat + mat);
  // Small enough for one block: everything moves once.
  assert.equal(
    matmulHbmBytes(p, { batch: 2, m: 100, k: 50, n: 30 }, 2, 4),
    2 * (100 * 50 * 2 + 50 * 30 * 2 + 100 * 30 * 4),
  );
});

Deno.test("VPU: full registers of 8 x 128 per core, two ALU ops per cycle", () => {
  const perCycle = 1024 * 2; // elements per core per op, both cores
  assert.equal(vpuCycles(p, f, perCycle * 10, 0), 5);
  assert.equal(vpuCycles(p, f, 1, 0), 0.5);
  assert.equal(vpuCycles(p, f, 0, perCycle * 3), 3);
});

Deno.test("kernel timing: the slowest unit plus the fixed overhead; no work takes no time", () => {
  const t = kernelTiming(p, f, { vpuOps: 2048 * 100, hbmBytes: 1142 * 1000, flops: 7 });
  assert.equal(t.bound, "hbm");
  assert.equal(t.cycles, Math.ceil(1142 * 1000 / f.hbmBytesPerCycle) + p.kernelOverheadCycles);
  assert.equal(t.flops, 7);
  const none = kernelTiming(p, f, {});
  assert.deepEqual([none.cycles, none.bound], [0, "none"]);
});

Deno.test("host link: latency plus bytes at the link's bandwidth", () => {
  assert.equal(transferCycles(f, 0), Math.ceil(p.hostLatency * p.clockHz));
  assert.equal(transferCycles(f, 16e9), Math.ceil(p.hostLatency * p.clockHz + p.clockHz));
});

Deno.test("simulated clock: transfers overlap kernels; a kernel waits for cores and inputs", () => {
  const c = new SimClock();
  const up1 = c.upload(100, 50);
  const k1 = c.kernel(up1.end, 200);
  const up2 = c.upload(100, 50); // the link is free again: overlaps k1
  assert.deepEqual([up2.start, up2.end], [50, 100]);
  const k2 = c.kernel(up2.end, 30); // waits for the cores, not for its input
  assert.deepEqual([k1.start, k1.end, k2.start, k2.end], [50, 250, 250, 280]);
  const down = c.download(k2.end, 100, 40);
  assert.deepEqual([down.start, down.end], [280, 320]);
  // Anything the host sends after it received data goes after that download.
  assert.equal(c.upload(10, 5).start, 320);
  assert.equal(c.now, 325);
  assert.equal(c.counters.uploads.count, 3);
});
