/**
 * ResizeBilinearGrad and ResizeNearestNeighborGrad, TensorFlow's gradient ops of the resizes
 * (resize_bilinear_op.cc, resize_nearest_neighbor_op.cc): each output pixel's gradient goes back
 * to the source pixels the forward op read, through the same tables (`resizeAxis`), summed in
 * float64 and rounded once to T. They run on REF (the gradient ops' device for now).
 *
 * This module imports only functions from resize.ts (hoisted, so the two modules' cycle through
 * the gradient functions is safe whichever loads first); its attr specs are its own.
 */
import { type DType, FLOAT_DTYPES, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Node, Output } from "../graph.ts";
import { defineOp, type GradientContext, type InferInput, type OpDef } from "../op.ts";
import { formatShape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import type { FastCheck } from "../testing/fast_check_types.ts";
import { checkRank, int32Vector, knownInts } from "./array_util.ts";
import { apply } from "./build.ts";
import { requireRank } from "./infer_util.ts";
import { int32Const } from "../grads/util.ts";
import { type ResizeAttrs, resizeAxis } from "./resize.ts";

const GRAD_ATTRS = {
  align_corners: { kind: "bool", default: false },
  half_pixel_centers: { kind: "bool", default: false },
} as const;

function checkModes(attrs: ResizeAttrs): void {
  if (attrs.align_corners && attrs.half_pixel_centers) {
    throw new EdgeflowError("if half_pixel_centers is true, align_corners must be false");
  }
}

/** dL/dimages of ResizeBilinear: grads [b, oh, ow, c] spread over original_image's pixels. */
export const ResizeBilinearGrad: OpDef<ResizeAttrs> = defineOp<ResizeAttrs>({
  name: "ResizeBilinearGrad",
  inputs: [{ name: "grads", type: "float32" }, { name: "original_image", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: { T: { kind: "type", allowed: FLOAT_DTYPES }, ...GRAD_ATTRS },
  infer: ([grads, image], attrs) => {
    checkModes(attrs);
    requireRank(grads, 4, 4, "grads");
    requireRank(image, 4, 4, "original_image");
    return [{ dtype: image.dtype, shape: image.shape }];
  },
  reference: ([grads, image], attrs) => {
    checkModes(attrs);
    const [b, oh, ow, c] = grads.shape, [ib, h, w, ic] = image.shape;
    if (b !== ib || c !== ic || h === 0 || w === 0) {
      throw new EdgeflowError(
        `grads ${formatShape(grads.shape)} do not belong to an image ${formatShape(image.shape)}`,
      );
    }
    const rows = resizeAxis("bilinear", h, oh, attrs), cols = resizeAxis("bilinear", w, ow, attrs);
    const gs = numbers(grads), out = new Float64Array(image.size);
    let o = 0;
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < oh; y++) {
        const top = (n * h + rows.lower[y]) * w, bottom = (n * h + rows.upper[y]) * w;
        const dy = rows.lerp[y];
        for (let x = 0; x < ow; x++) {
          const l = cols.lower[x], r = cols.upper[x], dx = cols.lerp[x];
          for (let k = 0; k < c; k++, o++) {
            const g = gs[o];
            out[(top + l) * c + k] += g * (1 - dy) * (1 - dx);
            out[(top + r) * c + k] += g * (1 - dy) * dx;
            out[(bottom + l) * c + k] += g * dy * (1 - dx);
            out[(bottom + r) * c + k] += g * dy * dx;
          }
        }
      }
    }
    return [Tensor.fromNumbers(image.dtype, image.shape, out)];
  },
  arbitrary: (fc, dtype) => arbGrad(fc, dtype, true),
});

/** dL/dimages of ResizeNearestNeighbor: each output pixel's gradient added to its source. */
export const ResizeNearestNeighborGrad: OpDef<ResizeAttrs> = defineOp<ResizeAttrs>({
  name: "ResizeNearestNeighborGrad",
  inputs: [{ name: "grads", type: "T" }, { name: "size", type: "int32" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: { T: { kind: "type", allowed: REAL_DTYPES }, ...GRAD_ATTRS },
  infer: ([grads, size]: readonly InferInput[], attrs) => {
    checkModes(attrs);
    requireRank(grads, 4, 4, "grads");
    checkRank(size.shape, 1, "size");
    const known = knownInts(size);
    const g = grads.shape ?? [-1, -1, -1, -1];
    return [{ dtype: grads.dtype, shape: [g[0], known?.[0] ?? -1, known?.[1] ?? -1, g[3]] }];
  },
  reference: ([grads, size], attrs) => {
    checkModes(attrs);
    const [h, w] = Array.from(numbers(size));
    if (size.size !== 2 || !(h > 0 && w > 0)) {
      throw new EdgeflowError(`size must be 2 positive dims, got ${formatShape(size.shape)}`);
    }
    const [b, oh, ow, c] = grads.shape;
    const rows = resizeAxis("nearest", h, oh, attrs), cols = resizeAxis("nearest", w, ow, attrs);
    const gs = numbers(grads), shape = [b, h, w, c];
    const out = new Float64Array(sizeOf(shape));
    let o = 0;
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const to = ((n * h + rows.lower[y]) * w + cols.lower[x]) * c;
          for (let k = 0; k < c; k++) out[to + k] += gs[o++];
        }
      }
    }
    return [Tensor.fromNumbers(grads.dtype, shape, out)];
  },
  arbitrary: (fc, dtype) => arbGrad(fc, dtype, false),
});

function arbGrad(fc: FastCheck, dtype: DType, bilinear: boolean) {
  return fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 5 }),
    w: fc.integer({ min: 1, max: 5 }),
    c: fc.integer({ min: 1, max: 3 }),
    oh: fc.integer({ min: 1, max: 7 }),
    ow: fc.integer({ min: 1, max: 7 }),
    mode: fc.constantFrom("legacy", "align_corners", "half_pixel_centers"),
    seed: fc.nat(),
  }).map((r) => ({
    inputs: bilinear
      ? [
        randomTensor("float32", [r.b, r.oh, r.ow, r.c], r.seed),
        randomTensor(dtype, [r.b, r.h, r.w, r.c], r.seed + 1),
      ]
      : [randomTensor(dtype, [r.b, r.oh, r.ow, r.c], r.seed), int32Vector([r.h, r.w])],
    attrs: {
      align_corners: r.mode === "align_corners",
      half_pixel_centers: r.mode === "half_pixel_centers",
    },
  }));
}

type Dys = readonly (Output | null)[];

/** ResizeBilinear's gradient: ResizeBilinearGrad for the images, none for the size. */
export function resizeBilinearGradFn(
  _: GradientContext,
  node: Node<ResizeAttrs>,
  [dy]: Dys,
): (Output | null)[] {
  const { align_corners, half_pixel_centers } = node.attrs;
  const images = node.inputs[0];
  const dx = apply(ResizeBilinearGrad, [dy!, images], { align_corners, half_pixel_centers });
  return [dx.outputs[0], null];
}

/** ResizeNearestNeighbor's gradient: ResizeNearestNeighborGrad to the images' height and width. */
export function resizeNearestNeighborGradFn(
  _: GradientContext,
  node: Node<ResizeAttrs>,
  [dy]: Dys,
): (Output | null)[] {
  const { align_corners, half_pixel_centers } = node.attrs;
  const shape = node.inputs[0].shape;
  if (shape === null || shape[1] < 0 || shape[2] < 0) {
    throw new EdgeflowError(
      "the gradient of ResizeNearestNeighbor needs the images' height and width in the graph",
    );
  }
  const size = int32Const(dy!, [shape[1], shape[2]]);
  const dx = apply(ResizeNearestNeighborGrad, [dy!, size], { align_corners, half_pixel_centers });
  return [dx.outputs[0], null];
}

export const GRAD_RESIZE_OPS: readonly OpDef[] = [
  ResizeBilinearGrad,
  ResizeNearestNeighborGrad,
] as unknown as OpDef[];
