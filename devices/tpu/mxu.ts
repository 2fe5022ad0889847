/**
 * The matrix unit's arithmetic, at the tile level: C = A @ B where A and B hold bfloat16 values
 * (as float32) and each output is summed the way a weight-stationary systolic array of height
 * `kTile` sums it. Within a K-tile the products enter one float32 partial sum in k order,
 * starting from zero at the top of the column; each tile's partial sum is then added to the
 * output's float32 accumulator, tile by tile. Products of two bfloat16 values are exact in
 * float32, so only the additions round, and no multiply-add is fused.
 *
 * `mxuMatmulJs` states this plainly; `mxuMatmul` runs the same order in WebAssembly SIMD
 * (wasm/mxu.c, embedded in wasm/mxu_wasm.ts) and falls back to the plain loops where
 * WebAssembly is missing. Tests check both against each other and against the cycle-level
 * systolic simulation, bit for bit.
 */
import { MXU_WASM_BASE64 } from "./wasm/mxu_wasm.ts";

/** The plain-loop definition of the MXU's summation order. */
export function mxuMatmulJs(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  kTile: number,
): Float32Array {
  const c = new Float32Array(m * n);
  const partial = new Float32Array(n);
  for (let i = 0; i < m; i++) {
    for (let k0 = 0; k0 < k; k0 += kTile) {
      partial.fill(0);
      const k1 = Math.min(k0 + kTile, k);
      for (let kk = k0; kk < k1; kk++) {
        const x = a[i * k + kk];
        const row = kk * n;
        // Float32Array stores round each sum to float32.
        for (let j = 0; j < n; j++) partial[j] += Math.fround(x * b[row + j]);
      }
      for (let j = 0; j < n; j++) c[i * n + j] += partial[j];
    }
  }
  return c;
}

// Arrays go above the module's stack and data, which emscripten keeps below 1 MiB.
const HEAP_BASE = 1 << 20;

interface MxuWasm {
  memory: WebAssembly.Memory;
  matmul: (...args: number[]) => void;
}

let wasm: MxuWasm | null | undefined;

function loadWasm(): MxuWasm | null {
  if (wasm !== undefined) return wasm;
  try {
    const bytes = Uint8Array.from(atob(MXU_WASM_BASE64), (ch) => ch.charCodeAt(0));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const e = instance.exports;
    wasm = {
      memory: e.memory as WebAssembly.Memory,
      matmul: e.mxu_matmul as (...args: number[]) => void,
    };
  } catch {
    // No WebAssembly SIMD here: the plain loops give the same bits, only slower.
    wasm = null;
  }
  return wasm;
}

/** Whether the fast path is available (reported by benches). */
export function mxuUsesWasm(): boolean {
  return loadWasm() !== null;
}

/**
 * C [m, n] = A [m, k] @ B [k, n] in the MXU's order (see above) with K-tiles of `kTile` rows.
 * A and B must already hold bfloat16 values.
 */
export function mxuMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  kTile: number,
): Float32Array {
  const w = loadWasm();
  if (!w || m * n === 0 || k === 0) return mxuMatmulJs(a, b, m, k, n, kTile);
  const panels = Math.ceil(n / 8) * 8 * Math.min(kTile, k);
  const floats = m * k + k * n + m * n + panels;
  const need = HEAP_BASE + 4 * floats;
  if (need > w.memory.buffer.byteLength) {
    w.memory.grow(Math.ceil((need - w.memory.buffer.byteLength) / 65536));
  }
  const heap = new Float32Array(w.memory.buffer);
  const aAt = HEAP_BASE / 4, bAt = aAt + m * k, cAt = bAt + k * n, pAt = cAt + m * n;
  heap.set(a.subarray(0, m * k), aAt);
  heap.set(b.subarray(0, k * n), bAt);
  heap.fill(0, cAt, cAt + m * n);
  w.matmul(4 * aAt, 4 * bAt, 4 * cAt, 4 * pAt, m, k, n, kTile);
  return heap.slice(cAt, cAt + m * n);
}
