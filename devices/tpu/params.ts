/**
 * The TPU machine model's parameters: every number the emulator's capacity and timing come from,
 * in one place, with its source. Pass any of them as `deviceOptions: { TPU: {...} }`.
 *
 * The default is one TPU v4 chip in megacore mode: its two TensorCores act as one device, as JAX
 * presents a v4 chip. `tensorCores: 1` models one core on its own (give it half the HBM too).
 *
 * Sources:
 * - [cloud] Google Cloud, "TPU v4" (cloud.google.com/tpu/docs/v4): two TensorCores per chip, four
 *   MXUs per TensorCore, 275 TFLOP/s bfloat16 peak per chip, 32 GiB HBM2 at 1200 GB/s.
 * - [isca23] Jouppi et al., "TPU v4: An Optically Reconfigurable Supercomputer for Machine
 *   Learning with Hardware Support for Embeddings", ISCA 2023: 1050 MHz clock, 128x128 MXUs.
 *   Check: 2 cores x 4 MXUs x 128 x 128 MACs x 2 FLOP x 1.05 GHz = 275.3 TFLOP/s, as [cloud].
 * - [jax] JAX, jax/_src/pallas/mosaic/tpu_info.py (ChipVersion.TPU_V4): vector registers of
 *   8 sublanes x 128 lanes of 32 bits, MXU column size 128, 16 MiB VMEM per TensorCore.
 * - [hc20] Norrie et al., "Google's Training Chips Revealed: TPUv2 and TPUv3", Hot Chips 32
 *   (2020): two vector ALUs per sublane and lane, so two full-register VPU ops per cycle
 *   (TPUv2/v3; assumed unchanged in v4).
 * - [assumed] no published figure: the host link, transfer latency, per-kernel overhead and the
 *   extended-unary (transcendental) issue rate. They are here so they can be changed.
 */
import { EdgeflowError } from "../../core/errors.ts";

export interface TpuParams {
  /** What the parameters describe, for reports. */
  readonly name: string;
  /** Core clock in Hz. [isca23] */
  readonly clockHz: number;
  /** TensorCores acting as this one device (megacore). [cloud] */
  readonly tensorCores: number;
  /** Matrix units per TensorCore. [cloud] */
  readonly mxusPerCore: number;
  /** Systolic array height: the reduction (K) length of one weight tile. [isca23] */
  readonly mxuRows: number;
  /** Systolic array width: output columns (N) of one weight tile. [isca23], [jax] */
  readonly mxuCols: number;
  /** Lanes of a vector register. [jax] */
  readonly vpuLanes: number;
  /** Sublanes of a vector register. [jax] */
  readonly vpuSublanes: number;
  /** Full-register vector ALU operations issued per cycle per core. [hc20] */
  readonly vpuAlus: number;
  /** Cycles one full-register transcendental (exp, log, rsqrt, ...) occupies. [assumed] */
  readonly eupCyclesPerOp: number;
  /** HBM capacity in bytes. [cloud] */
  readonly hbmBytes: number;
  /** HBM bandwidth in bytes per second. [cloud] */
  readonly hbmBandwidth: number;
  /** Vector memory per core in bytes; sets the matmul blocking and so its HBM traffic. [jax] */
  readonly vmemBytes: number;
  /** Host↔HBM bandwidth per direction in bytes per second (PCIe 3.0 x16). [assumed] */
  readonly hostBandwidth: number;
  /** Fixed cost of one host↔HBM transfer in seconds. [assumed] */
  readonly hostLatency: number;
  /** Fixed cycles per kernel: issue, DMA set-up, pipeline drain. [assumed] */
  readonly kernelOverheadCycles: number;
}

export const TPU_V4: TpuParams = Object.freeze({
  name: "TPU v4 chip (megacore)",
  clockHz: 1.05e9,
  tensorCores: 2,
  mxusPerCore: 4,
  mxuRows: 128,
  mxuCols: 128,
  vpuLanes: 128,
  vpuSublanes: 8,
  vpuAlus: 2,
  eupCyclesPerOp: 1,
  hbmBytes: 32 * 2 ** 30,
  hbmBandwidth: 1.2e12,
  vmemBytes: 16 * 2 ** 20,
  hostBandwidth: 16e9,
  hostLatency: 5e-6,
  kernelOverheadCycles: 1000,
});

/** Figures derived from the parameters, computed once per device. */
export interface TpuFigures {
  /** Matrix units in the device. */
  readonly mxus: number;
  /** Peak matrix FLOP/s: 2 per MAC per cycle on every MXU. */
  readonly peakFlops: number;
  /** 32-bit elements one VPU op covers on one core (one vector register). */
  readonly vregElements: number;
  /** HBM bytes per core cycle. */
  readonly hbmBytesPerCycle: number;
  /** Host link bytes per cycle, and its latency in cycles. */
  readonly hostBytesPerCycle: number;
  readonly hostLatencyCycles: number;
}

export function figuresOf(p: TpuParams): TpuFigures {
  const mxus = p.tensorCores * p.mxusPerCore;
  return {
    mxus,
    peakFlops: 2 * mxus * p.mxuRows * p.mxuCols * p.clockHz,
    vregElements: p.vpuLanes * p.vpuSublanes,
    hbmBytesPerCycle: p.hbmBandwidth / p.clockHz,
    hostBytesPerCycle: p.hostBandwidth / p.clockHz,
    hostLatencyCycles: p.hostLatency * p.clockHz,
  };
}

const POSITIVE_INTEGERS: readonly (keyof TpuParams)[] = [
  "tensorCores",
  "mxusPerCore",
  "mxuRows",
  "mxuCols",
  "vpuLanes",
  "vpuSublanes",
  "vpuAlus",
];
const POSITIVE: readonly (keyof TpuParams)[] = [
  "clockHz",
  "hbmBytes",
  "hbmBandwidth",
  "vmemBytes",
  "hostBandwidth",
];
const NON_NEGATIVE: readonly (keyof TpuParams)[] = [
  "eupCyclesPerOp",
  "hostLatency",
  "kernelOverheadCycles",
];

/**
 * The defaults with `options` applied (other keys, like the device index, are ignored); throws an
 * EdgeflowError naming a parameter that is not a valid number.
 */
export function resolveParams(options: Record<string, unknown> = {}): TpuParams {
  const params: Record<string, unknown> = { ...TPU_V4 };
  for (const key of Object.keys(TPU_V4)) if (options[key] !== undefined) params[key] = options[key];
  const check = (keys: readonly (keyof TpuParams)[], ok: (v: number) => boolean, what: string) => {
    for (const key of keys) {
      const v = params[key];
      if (typeof v !== "number" || !ok(v)) {
        throw new EdgeflowError(`TPU parameter ${key} must be ${what}, got ${String(v)}`);
      }
    }
  };
  check(POSITIVE_INTEGERS, (v) => Number.isInteger(v) && v > 0, "a positive integer");
  check(POSITIVE, (v) => Number.isFinite(v) && v > 0, "a positive number");
  check(NON_NEGATIVE, (v) => Number.isFinite(v) && v >= 0, "a non-negative number");
  if (typeof params.name !== "string") {
    throw new EdgeflowError(`TPU parameter name must be a string`);
  }
  return Object.freeze(params as unknown as TpuParams);
}
