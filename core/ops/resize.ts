/**
 * ResizeBilinear and ResizeNearestNeighbor (NHWC), exactly as TensorFlow's CPU kernels
 * (image_resizer_state.h, resize_bilinear_op.cc, resize_nearest_neighbor_op.cc): the scale and
 * each source coordinate are float32 computations, so the reference rounds every step with
 * Math.fround as C++'s float arithmetic does. `resizePlan` is the per-axis table of source rows
 * and weights every device kernel reads, so no device re-derives a coordinate.
 *
 * Gradients: ResizeBilinearGrad and ResizeNearestNeighborGrad (grad_resize.ts), TensorFlow's.
 */
import { type DType, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type InferInput, type OpDef } from "../op.ts";
import { formatShape, type PartialShape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import type { FastCheck } from "../testing/fast_check_types.ts";
import { checkRank, int32Vector, knownInts, takeElements } from "./array_util.ts";
import { requireRank } from "./infer_util.ts";
// Functions only (called when a gradient is built): the modules' cycle is safe.
import { resizeBilinearGradFn, resizeNearestNeighborGradFn } from "./grad_resize.ts";

export type ResizeAttrs = { T: DType; align_corners: boolean; half_pixel_centers: boolean };

const f = Math.fround;

/** TensorFlow's CalculateResizeScale, in float32. */
export function resizeScale(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? f((inSize - 1) / (outSize - 1)) : f(inSize / outSize);
}

/** Source rows (or columns) of one axis: bilinear's lower, upper and lerp, or nearest's index. */
export interface AxisPlan {
  lower: Int32Array;
  upper: Int32Array;
  /** float32 values: in − floor(in). */
  lerp: Float32Array;
}

/** The table of one axis for bilinear (compute_interpolation_weights) or nearest. */
export function resizeAxis(
  kind: "bilinear" | "nearest",
  inSize: number,
  outSize: number,
  { align_corners, half_pixel_centers }: ResizeAttrs,
): AxisPlan {
  const scale = resizeScale(inSize, outSize, align_corners);
  const lower = new Int32Array(outSize), upper = new Int32Array(outSize);
  const lerp = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    if (kind === "bilinear") {
      // HalfPixelScaler: (i + 0.5) · scale − 0.5; LegacyScaler: i · scale; both in float.
      const at = half_pixel_centers ? f(f(f(i + 0.5) * scale) - 0.5) : f(i * scale);
      const floor = Math.floor(at);
      lower[i] = Math.max(floor, 0);
      upper[i] = Math.min(Math.ceil(at), inSize - 1);
      lerp[i] = f(at - floor);
    } else {
      // HalfPixelScalerForNN: (i + 0.5) · scale (no − 0.5); roundf (half away from zero) with
      // align_corners, floorf otherwise; clamped to the last row, and to 0 for half pixels.
      const at = half_pixel_centers ? f(f(i + 0.5) * scale) : f(i * scale);
      const rounded = align_corners ? Math.sign(at) * Math.round(Math.abs(at)) : Math.floor(at);
      let j = Math.min(rounded, inSize - 1);
      if (half_pixel_centers) j = Math.max(0, j);
      lower[i] = upper[i] = j;
    }
  }
  return { lower, upper, lerp };
}

/** The output size from `size` (host int32 [2]): TensorFlow's checks, then [height, width]. */
function outputSize(size: Tensor): [number, number] {
  if (size.rank !== 1 || size.size !== 2) {
    throw new EdgeflowError(
      `size must be 1-D with 2 elements, got shape ${formatShape(size.shape)}`,
    );
  }
  const [h, w] = Array.from(numbers(size));
  if (!(h > 0 && w > 0)) {
    throw new EdgeflowError(`output dimensions must be positive, got [${h}, ${w}]`);
  }
  return [h, w];
}

function inferResize(
  [images, size]: readonly InferInput[],
  attrs: ResizeAttrs,
  outDType: (t: DType) => DType,
) {
  if (attrs.align_corners && attrs.half_pixel_centers) {
    throw new EdgeflowError("if half_pixel_centers is true, align_corners must be false");
  }
  requireRank(images, 4, 4, "images");
  checkRank(size.shape, 1, "size");
  if (size.shape !== null && size.shape[0] >= 0 && size.shape[0] !== 2) {
    throw new EdgeflowError(`size must have 2 elements, got shape ${formatShape(size.shape)}`);
  }
  const known = knownInts(size);
  if (known) outputSize(int32Vector(known));
  const x: PartialShape = images.shape ?? [-1, -1, -1, -1];
  checkImage(x);
  return [{
    dtype: outDType(images.dtype),
    shape: [x[0], known?.[0] ?? -1, known?.[1] ?? -1, x[3]],
  }];
}

/** TensorFlow's ImageResizerState checks: at least one channel, a non-empty image. */
function checkImage(x: PartialShape & readonly number[]): void {
  if (x[3] === 0) {
    throw new EdgeflowError(`image must have at least one channel, got ${formatShape(x)}`);
  }
  if (x[1] === 0 || x[2] === 0) {
    throw new EdgeflowError(`input image must be of non-zero size, got ${formatShape(x)}`);
  }
}

/** Checks the run-time image (non-zero height and width) and returns both axes' tables. */
export function resizePlan(
  kind: "bilinear" | "nearest",
  images: readonly number[],
  size: Tensor,
  attrs: ResizeAttrs,
): { outShape: number[]; rows: AxisPlan; cols: AxisPlan } {
  const [b, h, w, c] = images;
  checkImage(images);
  const [oh, ow] = outputSize(size);
  return {
    outShape: [b, oh, ow, c],
    rows: resizeAxis(kind, h, oh, attrs),
    cols: resizeAxis(kind, w, ow, attrs),
  };
}

function arbResize(fc: FastCheck, dtype: DType) {
  return fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 6 }),
    w: fc.integer({ min: 1, max: 6 }),
    c: fc.integer({ min: 1, max: 3 }),
    oh: fc.integer({ min: 1, max: 9 }),
    ow: fc.integer({ min: 1, max: 9 }),
    mode: fc.constantFrom("legacy", "align_corners", "half_pixel_centers"),
    seed: fc.nat(),
  }).map((r) => ({
    inputs: [randomTensor(dtype, [r.b, r.h, r.w, r.c], r.seed), int32Vector([r.oh, r.ow])],
    attrs: {
      align_corners: r.mode === "align_corners",
      half_pixel_centers: r.mode === "half_pixel_centers",
    },
  }));
}

const RESIZE_ATTRS = {
  T: { kind: "type", allowed: REAL_DTYPES },
  align_corners: { kind: "bool", default: false },
  half_pixel_centers: { kind: "bool", default: false },
} as const;

const RESIZE_INPUTS = [{ name: "images", type: "T" }, { name: "size", type: "int32" }];

/** Bilinear interpolation; the output is float32 whatever T is, as in TensorFlow. */
export const ResizeBilinear: OpDef<ResizeAttrs> = defineOp<ResizeAttrs>({
  gradient: (g, node, dys) => resizeBilinearGradFn(g, node, dys),
  name: "ResizeBilinear",
  inputs: RESIZE_INPUTS,
  outputs: [{ name: "resized_images", type: "float32" }],
  hostMemory: { inputs: [1] },
  attrs: RESIZE_ATTRS,
  infer: (inputs, attrs) => inferResize(inputs, attrs, () => "float32"),
  reference: ([images, size], attrs) => {
    const { outShape, rows, cols } = resizePlan("bilinear", images.shape, size, attrs);
    const [b, , , c] = outShape, [, h, w] = images.shape;
    const xs = numbers(images), out = new Float32Array(sizeOf(outShape));
    let o = 0;
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < rows.lower.length; y++) {
        const top = (n * h + rows.lower[y]) * w, bottom = (n * h + rows.upper[y]) * w;
        const dy = rows.lerp[y];
        for (let x = 0; x < cols.lower.length; x++) {
          const l = cols.lower[x], r = cols.upper[x], dx = cols.lerp[x];
          for (let k = 0; k < c; k++, o++) {
            // compute_lerp, each operation rounded to float as in TensorFlow.
            const tl = f(xs[(top + l) * c + k]), tr = f(xs[(top + r) * c + k]);
            const bl = f(xs[(bottom + l) * c + k]), br = f(xs[(bottom + r) * c + k]);
            const t = f(tl + f(f(tr - tl) * dx)), bo = f(bl + f(f(br - bl) * dx));
            out[o] = f(t + f(f(bo - t) * dy));
          }
        }
      }
    }
    return [new Tensor("float32", outShape, out)];
  },
  arbitrary: arbResize,
});

/** Nearest neighbour: each output pixel copies one input pixel, so the dtype is kept. */
export const ResizeNearestNeighbor: OpDef<ResizeAttrs> = defineOp<ResizeAttrs>({
  gradient: (g, node, dys) => resizeNearestNeighborGradFn(g, node, dys),
  name: "ResizeNearestNeighbor",
  inputs: RESIZE_INPUTS,
  outputs: [{ name: "resized_images", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: RESIZE_ATTRS,
  infer: (inputs, attrs) => inferResize(inputs, attrs, (t) => t),
  reference: ([images, size], attrs) => {
    const { outShape, rows, cols } = resizePlan("nearest", images.shape, size, attrs);
    const [b, oh, ow, c] = outShape, [, h, w] = images.shape;
    const source = new Float64Array(sizeOf(outShape));
    let o = 0;
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const from = ((n * h + rows.lower[y]) * w + cols.lower[x]) * c;
          for (let k = 0; k < c; k++) source[o++] = from + k;
        }
      }
    }
    return [takeElements(images, outShape, source)];
  },
  arbitrary: arbResize,
});

export const RESIZE_OPS: readonly OpDef[] = [
  ResizeBilinear,
  ResizeNearestNeighbor,
] as unknown as OpDef[];
