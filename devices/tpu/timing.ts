/**
 * The tile-level timing model: how many core cycles a kernel's work takes on the machine the
 * parameters describe. A kernel states its work (matmuls for the MXUs, element operations for
 * the VPU, bytes of HBM traffic); the model turns each into cycles and, because the hardware
 * overlaps them (HBM DMA into double-buffered VMEM, MXU and VPU in one VLIW bundle), takes the
 * slowest of the three plus a fixed per-kernel overhead.
 *
 * The MXU figure is the closed form `mxuStreamCycles`, which tests check against the cycle-level
 * systolic array simulation (systolic.ts).
 */
import type { TpuFigures, TpuParams } from "./params.ts";

/** One batch of matmuls [batch] x ([m, k] @ [k, n]) through the MXUs. */
export interface MatmulShape {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

/** What a kernel asks of the machine. */
export interface Work {
  /** Matmuls through the MXUs. */
  readonly matmuls?: readonly MatmulShape[];
  /** Element operations on the vector ALUs (one per element per primitive op). */
  readonly vpuOps?: number;
  /** Element operations on the transcendental unit (exp, log, rsqrt, reciprocal, ...). */
  readonly eupOps?: number;
  /** Bytes read from and written to HBM. */
  readonly hbmBytes?: number;
  /** Useful floating-point operations, for reports (2 per multiply-add). */
  readonly flops?: number;
}

/** A kernel's cycles and what they came from. */
export interface KernelTiming {
  /** Total cycles: overhead + the slowest of MXU, VPU and HBM (0 for metadata-only kernels). */
  readonly cycles: number;
  readonly mxuCycles: number;
  readonly vpuCycles: number;
  readonly hbmCycles: number;
  readonly hbmBytes: number;
  readonly flops: number;
  /** Which unit set the time: "mxu", "vpu", "hbm", or "none" when there was no work. */
  readonly bound: "mxu" | "vpu" | "hbm" | "none";
}

/**
 * Cycles for one MXU (R rows, C columns, weight-stationary) to stream `rows` LHS rows through
 * each of `tiles` weight tiles, from the first weight load to the last accumulator write:
 * (tiles - 1) * P + rows + R + C, with P = max(rows, R, 2) cycles per tile. The first row enters
 * a cycle after the first load starts; rows enter one per cycle and the next tile's R weight
 * rows load meanwhile (double-buffered), so a tile lasts max(rows, R), and at least 2 because a
 * load starts after the tile before it has begun and its tile starts after the load has; the
 * last row leaves the array R + C - 2 cycles after entering, and is accumulated a cycle later.
 */
export function mxuStreamCycles(tiles: number, rows: number, R: number, C: number): number {
  if (tiles <= 0 || rows <= 0) return 0;
  return (tiles - 1) * Math.max(rows, R, 2) + rows + R + C;
}

/**
 * MXU cycles for a batch of matmuls spread over every MXU: each weight tile (R of k by C of n)
 * streams all m rows; when there are fewer tiles than MXUs, the rows are split so every MXU
 * works (each then holds a copy of its tile).
 */
export function matmulMxuCycles(p: TpuParams, mxus: number, s: MatmulShape): number {
  const tiles = s.batch * Math.ceil(s.k / p.mxuRows) * Math.ceil(s.n / p.mxuCols);
  if (tiles === 0 || s.m === 0) return 0;
  const split = Math.max(1, Math.floor(mxus / tiles));
  const rows = Math.ceil(s.m / split);
  const perMxu = Math.ceil((tiles * split) / mxus);
  return mxuStreamCycles(perMxu, rows, p.mxuRows, p.mxuCols);
}

/**
 * HBM bytes a matmul moves, blocked as a compiler blocks it for VMEM: square output blocks of
 * b x b with K slices of up to 512, both operand slices double-buffered next to a float32
 * accumulator block. A is read once per column block, B once per row block, C written once.
 */
export function matmulHbmBytes(
  p: TpuParams,
  s: MatmulShape,
  inBytes: number,
  outBytes: number,
): number {
  const bk = Math.min(Math.max(s.k, 1), 512);
  const fits = (b: number) => 2 * (2 * b * bk) * inBytes + b * b * 4 <= p.vmemBytes;
  let b = p.mxuCols;
  while (b < Math.max(s.m, s.n) && fits(2 * b)) b *= 2;
  const a = s.m * s.k * inBytes * Math.ceil(s.n / b);
  const w = s.k * s.n * inBytes * Math.ceil(s.m / b);
  return s.batch * (a + w + s.m * s.n * outBytes);
}

/** Cycles for element operations on the VPU of every core: full vector registers per op. */
export function vpuCycles(p: TpuParams, f: TpuFigures, aluOps: number, eupOps: number): number {
  const perCycle = f.vregElements * p.tensorCores;
  return Math.ceil(aluOps / perCycle) / p.vpuAlus +
    Math.ceil(eupOps / perCycle) * p.eupCyclesPerOp;
}

export function kernelTiming(p: TpuParams, f: TpuFigures, work: Work): KernelTiming {
  const mxuCycles = (work.matmuls ?? []).reduce((c, s) => c + matmulMxuCycles(p, f.mxus, s), 0);
  const vpu = vpuCycles(p, f, work.vpuOps ?? 0, work.eupOps ?? 0);
  const hbmBytes = work.hbmBytes ?? 0;
  const hbm = hbmBytes / f.hbmBytesPerCycle;
  const slowest = Math.max(mxuCycles, vpu, hbm);
  const bound = slowest === 0
    ? "none"
    : slowest === mxuCycles
    ? "mxu"
    : slowest === hbm
    ? "hbm"
    : "vpu";
  return {
    cycles: slowest === 0 ? 0 : Math.ceil(slowest) + p.kernelOverheadCycles,
    mxuCycles,
    vpuCycles: Math.ceil(vpu),
    hbmCycles: Math.ceil(hbm),
    hbmBytes,
    flops: work.flops ?? 0,
    bound,
  };
}

/** Cycles of one host↔HBM transfer of `bytes`. */
export function transferCycles(f: TpuFigures, bytes: number): number {
  return Math.ceil(f.hostLatencyCycles + bytes / f.hostBytesPerCycle);
}
