/**
 * The GEMM that MatMul, BatchMatMulV2 and Conv2D (as an implicit GEMM) share:
 * C[batch, m, n] = sum_k A(batch, m, k) * B(batch, k, n). A and B are WGSL loader functions
 * that return 0 outside the matrices, so transposes, broadcast batches and im2col are only
 * different loaders:
 *
 *   fn baseA(batch: u32) -> u32            fn loadA(base: u32, m: u32, k: u32) -> T
 *   fn baseB(batch: u32) -> u32            fn loadB(base: u32, k: u32, n: u32) -> T
 *
 * Two strategies generate the kernel around the loaders (gemm_tiled.ts, gemm_panel.ts):
 * - "tiled", for GPUs: a workgroup computes a 32×32 tile of C, staging slices of A and B in
 *   workgroup memory; each invocation accumulates a 4×4 block in registers.
 * - "panel", for CPU adapters (lavapipe, SwiftShader): they run invocations as SIMD lanes, where
 *   a load whose address differs per lane becomes a scalar loop and workgroup memory is plain
 *   memory. A workgroup shares 32 rows of A and each invocation streams 4 to 16 columns of B as
 *   vec4s, accumulating the whole panel. Lavapipe (Mesa 22.3) loads each lane's value even at a
 *   lane-uniform address, so the panel is as large as pays (gemm_panel.ts). Measured on lavapipe
 *   the 16-row, 8-column panel was 3-4x the tiled kernel; 32×16 is 2.2x that at MatMul 1024.
 * The device's `gemm` option picks one; by default CPU adapters get "panel", GPUs "tiled".
 */
import type { Program, UniformField } from "../../devices/webgpu/program.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Binding } from "../wgsl.ts";
import { panelGemm, panelGrid } from "./gemm_panel.ts";
import { tiledGemm, tiledGrid } from "./gemm_tiled.ts";

export type GemmStrategy = "tiled" | "panel";

export interface GemmSpec {
  readonly name: string;
  /** Key parts of the loaders (transposes, batch rank, conv flags). */
  readonly key: readonly (string | number | boolean)[];
  /** in0 holds A's values and in1 B's; more inputs may follow. C is out0. */
  readonly inputs: readonly Binding[];
  readonly out: Binding;
  /** Uniforms after M, N, K. */
  readonly uniforms: readonly UniformField[];
  /** The four loader functions (file comment). */
  readonly loaders: string;
  /** The accumulation type: f32 for floats, i32 for int32 (wrapping as TensorFlow's). */
  readonly type: "f32" | "i32";
  /**
   * B is a row-major [K, N] matrix at baseB in in1 with N a multiple of 4 (statically), so the
   * panel strategy reads it as vec4s instead of through loadB.
   */
  readonly bRows4: boolean;
  /** C's rows have a multiple of 4 elements and store unrounded: vec4 stores. */
  readonly cRows4: boolean;
  /** N as known when the program is made (-1: unknown); sizes the panel's workgroups. */
  readonly n: number;
}

export const GEMM_UNIFORMS: readonly UniformField[] = [
  { name: "M", type: "u32" },
  { name: "N", type: "u32" },
  { name: "K", type: "u32" },
];

/** The strategy a device uses. */
export function gemmStrategy(device: WebGpuDevice): GemmStrategy {
  return device.options.gemm ?? (device.info.isFallbackAdapter ? "panel" : "tiled");
}

export function gemmProgram(strategy: GemmStrategy, spec: GemmSpec): Program {
  return strategy === "panel" ? panelGemm(spec) : tiledGemm(spec);
}

/** Workgroups of a GEMM with m×n outputs per batch. */
export function gemmGrid(strategy: GemmStrategy, m: number, n: number, batch: number) {
  return strategy === "panel" ? panelGrid(m, n, batch) : tiledGrid(m, n, batch);
}

/** Whether C's rows may use vec4 stores (plain f32/i32 storage, no rounding, n % 4 == 0). */
export function vec4Rows(b: Binding, n: number): boolean {
  return n > 0 && n % 4 === 0 && b.type !== "f16" && (b.dtype === "float32" || b.dtype === "int32");
}
