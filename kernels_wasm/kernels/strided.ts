/**
 * Strided copies (kernels_wasm/src/copy.c): one loop nest moving elements from src to dst, each
 * side with its own element strides. Movement kernels describe themselves this way; this file
 * merges the dims both sides walk contiguously and launches the copy.
 */
import { byteSize, type DType } from "../../core/dtype.ts";
import { type Shape, stridesOf } from "../../core/shape.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";

const MAX_RANK = 8;
/** Bytes a copy task moves, about: large enough to amortise a thread, small enough to balance. */
const TASK_BYTES = 1 << 16;

export interface StridedCopy {
  dtype: DType;
  /** Byte addresses of element 0 of the loop nest on each side. */
  dst: number;
  src: number;
  dims: Shape;
  /** Element strides per dim; src strides may be 0 or negative. */
  dstStrides: readonly number[];
  srcStrides: readonly number[];
}

/** Drops size-1 dims and merges neighbours both sides step through as one. */
function collapse(c: StridedCopy): { dims: number[]; ds: number[]; ss: number[] } {
  const dims: number[] = [], ds: number[] = [], ss: number[] = [];
  c.dims.forEach((d, i) => {
    if (d === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && ds[last] === c.dstStrides[i] * d && ss[last] === c.srcStrides[i] * d) {
      dims[last] *= d;
      ds[last] = c.dstStrides[i];
      ss[last] = c.srcStrides[i];
    } else {
      dims.push(d);
      ds.push(c.dstStrides[i]);
      ss.push(c.srcStrides[i]);
    }
  });
  if (dims.length === 0) return { dims: [1], ds: [1], ss: [1] };
  return { dims, ds, ss };
}

export function stridedCopy(d: WasmDevice, c: StridedCopy): void {
  if (c.dims.some((x) => x === 0)) return;
  const { dims, ds, ss } = collapse(c);
  if (dims.length > MAX_RANK) throw new Error(`a strided copy of rank ${dims.length}`);
  const size = byteSize(c.dtype);
  const inner = dims[dims.length - 1];
  const rows = dims.slice(0, -1).reduce((a, b) => a * b, 1);
  const chunk = Math.max(1, Math.floor(TASK_BYTES / (inner * size)));
  const pad = (a: number[]) => [...a, ...new Array(MAX_RANK - a.length).fill(0)];
  d.launch(Task.task_strided_copy, Math.ceil(rows / chunk), [
    c.dst,
    c.src,
    size,
    dims.length,
    chunk,
    ...pad(dims),
    ...pad(ds),
    ...pad(ss),
  ], rows * inner);
}

/** Row-major strides: the dst side of most copies. */
export function contiguous(shape: Shape): number[] {
  return stridesOf(shape);
}
