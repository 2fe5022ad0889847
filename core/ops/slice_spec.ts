/**
 * Slice and StridedSlice argument resolution, shared by shape inference, the reference and every
 * device kernel, so no device reimplements TensorFlow's mask rules. The algorithm follows
 * TensorFlow's ValidateStridedSliceOp: expand the sparse spec (with its ellipsis and new axes)
 * into one entry per input dim, canonicalise begin/end with clamping, then build the shapes.
 */
import { EdgeflowError } from "../errors.ts";

// ---- Slice -------------------------------------------------------------------------------

/** A resolved Slice: `size[i]` elements from `begin[i]` along each input dim. */
export interface SliceSpec {
  begin: number[];
  /** Sizes with -1 replaced by "to the end". */
  size: number[];
}

/**
 * Resolves Slice(begin, size) on a concrete shape: size -1 means to the end; every range must
 * lie inside the input, as TensorFlow requires (Slice does not clamp).
 */
export function resolveSlice(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): SliceSpec {
  checkSliceArgs(shape.length, begin, size);
  const outSize = shape.map((dim, i) => {
    const b = begin[i];
    const s = size[i] === -1 ? dim - b : size[i];
    if (b < 0 || b > dim) {
      throw new EdgeflowError(`Slice: expected begin[${i}] in [0, ${dim}], got ${b}`);
    }
    if (s < 0 || b + s > dim) {
      throw new EdgeflowError(`Slice: expected size[${i}] in [0, ${dim - b}], got ${size[i]}`);
    }
    return s;
  });
  return { begin: begin.slice(), size: outSize };
}

/** Slice's output shape on a partial input; unknown begin or size values give unknown dims. */
export function sliceShape(
  shape: readonly number[],
  begin: readonly number[] | undefined,
  size: readonly number[] | undefined,
): number[] {
  if (begin && size && shape.every((d) => d >= 0)) return resolveSlice(shape, begin, size).size;
  if (begin) checkSliceArgs(shape.length, begin, begin);
  if (size) checkSliceArgs(shape.length, size, size);
  return shape.map((dim, i) => {
    const s = size?.[i];
    if (s === undefined) return -1;
    if (s !== -1) return s;
    return dim >= 0 && begin ? dim - begin[i] : -1;
  });
}

function checkSliceArgs(rank: number, begin: readonly number[], size: readonly number[]) {
  if (begin.length !== rank || size.length !== rank) {
    throw new EdgeflowError(
      `Slice: begin [${begin}] and size [${size}] must have ${rank} entries, one per input dim`,
    );
  }
  const bad = size.findIndex((s) => s < -1);
  if (bad >= 0) throw new EdgeflowError(`Slice: size[${bad}] = ${size[bad]} must be ≥ -1`);
}

// ---- StridedSlice ------------------------------------------------------------------------

/** StridedSlice's masks: bit i refers to entry i of begin/end/strides. */
export type StridedSliceMasks = {
  /** Ignore begin[i]: start at the first element in the stride's direction. */
  begin_mask: number;
  /** Ignore end[i]: run to the last element in the stride's direction. */
  end_mask: number;
  /** Entry i is `...`: as many full-range dims as the other entries leave. At most one bit. */
  ellipsis_mask: number;
  /** Entry i inserts a new dim of size 1 (tf.newaxis); begin/end/strides[i] are ignored. */
  new_axis_mask: number;
  /** Entry i is an integer index: take begin[i] and drop the dim. */
  shrink_axis_mask: number;
};

/**
 * A StridedSlice resolved against an input shape: one entry per input dim. The output element
 * at processing coordinates c reads the input at (begin[d] + c[d] * strides[d]) along each dim d;
 * the output is that processing-shaped block reshaped to `finalShape`.
 */
export interface StridedSliceSpec {
  /** Per input dim: the first index read, after masks, negative indexing and clamping. */
  begin: number[];
  /** Per input dim: the exclusive end, canonical like begin (-1 ends a reversed range at 0). */
  end: number[];
  /** Per input dim: the step, never 0. */
  strides: number[];
  /** Per input dim: elements taken, 1 for shrunk dims; -1 where inference cannot tell. */
  processingShape: number[];
  /** The output shape: processing shape without shrunk dims, with 1s for new axes. */
  finalShape: number[];
  /** Per input dim: whether an integer index removes it. */
  shrink: boolean[];
  /**
   * Whether the output holds exactly the input's elements in order (only the shape may differ,
   * through shrunk size-1 dims or new axes): a kernel may alias the input under `finalShape`.
   */
  isIdentity: boolean;
  /** Whether every stride is 1: a plain Slice with begin and size = processingShape. */
  isSimpleSlice: boolean;
}

const NEW_AXIS = -1;
const SHRINK_AXIS = -2;

/** The sparse spec (as given) expanded to one entry per input dim. */
interface DenseSpec {
  begin: number[];
  end: number[];
  strides: number[];
  beginMask: boolean[];
  endMask: boolean[];
  shrink: boolean[];
  /** Per output dim: the input dim it comes from, NEW_AXIS or SHRINK_AXIS. */
  gather: number[];
}

function buildDenseSpec(
  rank: number,
  begin: readonly number[] | undefined,
  end: readonly number[] | undefined,
  strides: readonly number[],
  m: StridedSliceMasks,
): DenseSpec {
  const n = strides.length;
  const bit = (mask: number, i: number) => ((mask >>> i) & 1) === 1;
  let ellipsis = m.ellipsis_mask;
  let sparseDims = n;
  // Only mask bits of the n given entries count: an ellipsis bit at or past n is no ellipsis
  // (TensorFlow scans entries 0..n-1 for it), so x[] with ellipsis_mask 1 is the whole input.
  let ellipsisAt = -1;
  for (let i = 0; i < n && ellipsisAt < 0; i++) if (bit(ellipsis, i)) ellipsisAt = i;
  // New axes after the ellipsis do not consume input dims, so the ellipsis covers more.
  let newAfterEllipsis = 0;
  for (let i = ellipsisAt + 1; ellipsisAt >= 0 && i < n; i++) {
    if (bit(m.new_axis_mask, i)) newAfterEllipsis++;
  }
  // Without an ellipsis there is an implicit one at the end.
  if (ellipsisAt < 0) {
    ellipsis = 2 ** n;
    sparseDims = n + 1;
  }
  const dense: DenseSpec = {
    begin: new Array(rank).fill(0),
    end: new Array(rank).fill(0),
    strides: new Array(rank).fill(1),
    beginMask: new Array(rank).fill(false),
    endMask: new Array(rank).fill(false),
    shrink: new Array(rank).fill(false),
    gather: [],
  };
  let full = 0;
  for (let i = 0; i < sparseDims; i++) {
    if (bit(ellipsis, i)) {
      const next = Math.min(rank - (sparseDims - i) + 1 + newAfterEllipsis, rank);
      for (; full < next; full++) {
        dense.beginMask[full] = dense.endMask[full] = true;
        dense.gather.push(full);
      }
    } else if (bit(m.new_axis_mask, i)) {
      dense.gather.push(NEW_AXIS);
    } else {
      if (full === rank) {
        throw new EdgeflowError(
          rank === 0
            ? "StridedSlice: attempting to slice a scalar"
            : `StridedSlice: too many indices for an input of rank ${rank}`,
        );
      }
      dense.begin[full] = begin?.[i] ?? 0;
      dense.end[full] = end?.[i] ?? 0;
      dense.strides[full] = strides[i];
      dense.beginMask[full] = bit(m.begin_mask, i);
      dense.endMask[full] = bit(m.end_mask, i);
      dense.shrink[full] = bit(m.shrink_axis_mask, i);
      dense.gather.push(dense.shrink[full] ? SHRINK_AXIS : full);
      full++;
    }
  }
  return dense;
}

function checkStridedArgs(
  begin: readonly number[] | undefined,
  end: readonly number[] | undefined,
  strides: readonly number[],
  m: StridedSliceMasks,
) {
  const n = strides.length;
  if ((begin && begin.length !== n) || (end && end.length !== n) || n >= 32) {
    throw new EdgeflowError(
      `StridedSlice: begin, end and strides must be vectors of one equal length below 32, got ` +
        `${begin?.length ?? "?"}, ${end?.length ?? "?"} and ${n} entries`,
    );
  }
  if (m.ellipsis_mask & (m.ellipsis_mask - 1)) {
    throw new EdgeflowError("StridedSlice: at most one ellipsis is allowed (ellipsis_mask)");
  }
}

/** Canonicalises one begin or end (c = 0 or 1) for a dim of size `dim`, as TensorFlow does. */
function canonical(x: number, c: 0 | 1, stride: number, dim: number, masked: boolean): number {
  const lo = stride > 0 ? 0 : -1;
  const hi = stride > 0 ? dim : dim - 1;
  if (masked) return (stride > 0) === (c === 0) ? lo : hi;
  const fwd = x < 0 ? dim + x : x;
  return fwd < lo ? lo : fwd > hi ? hi : fwd;
}

/** Elements in [begin, end) by `stride`; 0 when the interval is empty or points the other way. */
function intervalSize(length: number, stride: number): number {
  if (length === 0 || (length < 0) !== (stride < 0)) return 0;
  return Math.ceil(length / stride);
}

/**
 * Resolves StridedSlice. `inputShape` may hold -1 (unknown dims) and `begin`/`end` may be
 * undefined (unknown values) during inference; the result then holds -1 where it cannot tell.
 * With everything known it is exact, and it throws EdgeflowError wherever TensorFlow does.
 */
export function resolveStridedSlice(
  inputShape: readonly number[],
  begin: readonly number[] | undefined,
  end: readonly number[] | undefined,
  strides: readonly number[],
  masks: StridedSliceMasks,
): StridedSliceSpec {
  checkStridedArgs(begin, end, strides, masks);
  const rank = inputShape.length;
  const dense = buildDenseSpec(rank, begin, end, strides, masks);
  const valuesKnown = begin !== undefined && end !== undefined;
  const processingShape: number[] = [];
  let isIdentity = true, isSimpleSlice = true;
  for (let i = 0; i < rank; i++) {
    const dim = inputShape[i], stride = dense.strides[i], shrink = dense.shrink[i];
    if (stride === 0) throw new EdgeflowError(`StridedSlice: strides[${i}] must be non-zero`);
    if (dim < 0) {
      processingShape.push(shrink ? 1 : -1);
      isIdentity = false;
      continue;
    }
    if (shrink && stride <= 0) {
      throw new EdgeflowError("StridedSlice: only stride 1 is allowed on an integer index");
    }
    isSimpleSlice &&= stride === 1;
    const bothMasked = dense.beginMask[i] && dense.endMask[i];
    if (valuesKnown) {
      if (shrink) {
        // The end of an index is meaningless (x[-1] gives end 0); it is begin + 1.
        const b = dense.begin[i] < 0 ? dim + dense.begin[i] : dense.begin[i];
        if (b < 0 || b >= dim) {
          throw new EdgeflowError(
            `StridedSlice: index ${dense.begin[i]} is out of bounds for dim ${i} of size ${dim}`,
          );
        }
        dense.begin[i] = b;
        dense.end[i] = b + 1;
      } else {
        dense.begin[i] = canonical(dense.begin[i], 0, stride, dim, dense.beginMask[i]);
        dense.end[i] = canonical(dense.end[i], 1, stride, dim, dense.endMask[i]);
      }
      isIdentity &&= stride === 1 && dense.begin[i] === 0 && dense.end[i] === dim;
      processingShape.push(intervalSize(dense.end[i] - dense.begin[i], stride));
    } else {
      isIdentity &&= stride === 1 && bothMasked;
      if (shrink) processingShape.push(1);
      else if (bothMasked) processingShape.push(intervalSize(stride < 0 ? -dim : dim, stride));
      else processingShape.push(-1);
    }
  }
  const finalShape = dense.gather.flatMap((g) =>
    g === SHRINK_AXIS ? [] : g === NEW_AXIS ? [1] : [processingShape[g]]
  );
  return {
    begin: dense.begin,
    end: dense.end,
    strides: dense.strides,
    processingShape,
    finalShape,
    shrink: dense.shrink,
    isIdentity,
    isSimpleSlice,
  };
}
