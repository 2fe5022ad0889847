/**
 * The TypeScript side of the packed float32 GEMM (kernels_wasm/src/gemm.c): tiling, scratch
 * memory and the launches (pack a transposed B, then compute). MatMul, BatchMatMulV2 and Conv2D
 * call it.
 *
 * Tiling never changes results: every element of C is summed over k in the same order (KC blocks
 * in turn, k in turn inside the micro-kernel) whichever task computes it, so tiles can follow
 * the thread count. Tasks are many (about 8 per thread) because threads take them dynamically:
 * a core lent to another process then costs a task, not half the job.
 */
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";

const MR = 6, NR = 8, MC = 120, KC = 256;
/**
 * Products of more rows pack a B whose panels alias in L1 (bPanelAliases): each packed panel then
 * serves many A panels. Fewer rows (a 7x7 layer's 49) reuse a panel a few times only, where the
 * copy costs more than the misses.
 */
const PACK_B_ROWS = 96;
/**
 * Products of fewer multiply-adds run on the calling thread alone. Measured (paired, one
 * process): at 64x64x64 (262,144) a second thread gained nothing or lost (its first touches of
 * the packed operands and of C cross cores); at 96x96x96 (884,736) it saved a fifth.
 */
const GEMM_PARALLEL = 1 << 19;
/** Words of a ConvGeom (gemm.h), in order. */
export const CONV_WORDS = 14;

export interface GemmProblem {
  /** Pointers to A's first matrix, B's first matrix, C (dense [batch, m, n]). */
  a: number;
  b: number;
  c: number;
  m: number;
  n: number;
  k: number;
  /** Element (i, p) of an A matrix at a[i * rsa + p * csa]; (p, j) of B at b[p * rsb + j * csb]. */
  rsa: number;
  csa: number;
  rsb: number;
  csb: number;
  /** Matrices of C; A and B matrix for each, by index (absent: all 0). */
  batch?: number;
  // Any index array (broadcastIndex's may be Float64Array): batch indices of tensors in 32-bit
  // WASM memory are below 2^31, so copying them into i32 tables is exact.
  aIndex?: ArrayLike<number>;
  bIndex?: ArrayLike<number>;
  /** Distinct B matrices (each is packed once), and the element strides between matrices. */
  nb?: number;
  aStride?: number;
  bStride?: number;
  /** When A's rows are the im2col rows of an NHWC image: the 14 ConvGeom words. */
  conv?: readonly number[];
  /** With conv: A is the im2col matrix transposed (rows = taps, columns = output pixels). */
  convTransposed?: boolean;
  /**
   * A fused op's epilogue (kernels_wasm/src/epilogue.h), applied to each finished block of C:
   * params pointer (float32 [4, n]), activation code, norm flag.
   */
  epilogue?: readonly [number, number, number];
}

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/** C = A·B for float32 (see GemmProblem). */
export function sgemm(d: WasmDevice, p: GemmProblem): void {
  const batch = p.batch ?? 1, nb = p.nb ?? 1;
  if (p.m === 0 || p.n === 0 || batch === 0) return;
  if (p.k === 0) {
    d.launch(Task.task_fill, 1, [p.c, batch * p.m * p.n * 4, 4, 0, 0]);
    // An empty sum is 0; a fused op's output is then its epilogue of zeros.
    if (p.epilogue && p.epilogue[0]) {
      d.launch(Task.task_epilogue, 1, [p.c, ...p.epilogue, batch * p.m, p.n]);
    }
    return;
  }
  const np = roundUp(p.n, NR);
  // A row-major B (csb 1: weights [k, n], MatMul without transpose_b) is read in place by the
  // micro-kernel, saving a launch and a copy of B per call, unless its rows would evict each
  // other from L1 while many A panels reuse them (see bPanelAliases). A transposed B is packed.
  const packB = p.csb !== 1 || (p.m > PACK_B_ROWS && bPanelAliases(p.rsb, Math.min(p.k, KC)));
  const bp = packB ? d.scratch(nb * p.k * np * 4) : undefined;
  const tables = batch > 1 ? d.scratch(batch * 8) : undefined;
  try {
    let aIndex = 0, bIndex = 0;
    if (tables) {
      aIndex = tables.ptr;
      bIndex = tables.ptr + batch * 4;
      d.i32.set(p.aIndex ?? new Int32Array(batch), aIndex >>> 2);
      d.i32.set(p.bIndex ?? new Int32Array(batch), bIndex >>> 2);
    }
    const macs = batch * p.m * p.n * p.k;
    // Tiles for as many threads as the job can get; whoever takes a task computes the same bits.
    const threads = macs < GEMM_PARALLEL ? 1 : d.threads;
    const { mct, nct } = tiling(p.m, p.n, batch, threads);
    const words = [
      p.a,
      p.b,
      p.c,
      p.m,
      p.n,
      p.k,
      p.rsa,
      p.csa,
      p.rsb,
      p.csb,
      batch,
      aIndex,
      bIndex,
      nb,
      bp?.ptr ?? 0,
      mct,
      nct,
      p.aStride ?? 0,
      p.bStride ?? 0,
      p.conv ? (p.convTransposed ? 2 : 1) : 0,
      ...(p.conv ?? new Array(CONV_WORDS).fill(0)),
      ...(p.epilogue ?? [0, 0, 0]),
    ];
    const groups = Math.ceil(np / NR / 4);
    // Work 0 keeps a job on this thread.
    if (packB) d.launch(Task.task_sgemm_pack, nb * groups, words, threads > 1 ? nb * p.k * np : 0);
    const tasks = batch * Math.ceil(p.m / mct) * Math.ceil(p.n / nct);
    d.launch(Task.task_sgemm, tasks, words, threads > 1 ? macs : 0);
  } finally {
    if (bp) d.releaseScratch(bp);
    if (tables) d.releaseScratch(tables);
  }
}

/**
 * Whether the `rows` rows of a B panel read in place (32 bytes each, `rsb` floats apart) map onto
 * too few L1 sets to stay cached: with 64-byte lines and 64 sets (a 32-48 KiB L1), a row stride of
 * s bytes touches 4096 / gcd(s, 4096) sets, and at 8 ways each holds 8 lines. A 1024-column B
 * (4096 bytes a row) puts every row in one set: measured 1.45x slower than packed on a
 * 1024x1024x1024 MatMul, while mobilenet's 49-row products gained 15-40% reading B in place.
 */
function bPanelAliases(rsb: number, rows: number): boolean {
  let a = rsb * 4, b = 4096;
  while (b) [a, b] = [b, a % b];
  const sets = Math.max(1, 4096 / Math.max(a, 64));
  return sets * 8 < rows;
}

/**
 * Rows and columns per task: blocks of at most MC rows, about 8 tasks per thread. Of the cuts
 * giving at least 3/4 of that many tasks, the one re-reading the fewest operand bytes: a task
 * reads its rows of A and its columns of B, so B is read once per row block and A once per
 * column block. A 7x7 layer's product (49 rows, B of 224x1344 or 448x1792 weights) is then cut
 * along n only, where cutting its rows in three read its weights three times on 2 threads (and
 * a 14x14 layer's, nine times); products with many rows keep their row blocks. One thread takes
 * the whole product in row blocks.
 */
function tiling(m: number, n: number, batch: number, threads: number) {
  const target = threads > 1 ? 8 * threads : 1;
  const least = Math.ceil(m / MC);
  let best = { mct: 0, nct: 0, cost: Infinity, tasks: 0 };
  for (let bm = least; bm <= Math.max(least, target); bm++) {
    const mct = roundUp(Math.ceil(m / bm), MR);
    const tm = Math.ceil(m / mct);
    if (tm !== bm && bm !== least) continue; // the same cut as a smaller bm
    const tasksM = batch * tm;
    const bn = tasksM >= target ? 1 : Math.min(Math.ceil(target / tasksM), Math.ceil(n / 16));
    const nct = roundUp(Math.ceil(n / Math.max(1, bn)), NR);
    const tn = Math.ceil(n / nct);
    const tasks = tasksM * tn;
    const cost = tm * n + tn * m; // per unit of k: B re-read per row block, A per column block
    const enough = tasks * 4 >= target * 3;
    const better = enough
      ? best.tasks * 4 < target * 3 || cost < best.cost
      : best.tasks * 4 < target * 3 && tasks > best.tasks;
    if (better) best = { mct, nct, cost, tasks };
  }
  return { mct: best.mct, nct: best.nct };
}
