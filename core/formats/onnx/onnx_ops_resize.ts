/**
 * ONNX Resize (and Upsample) with static shapes, axis by axis: each output index along an axis
 * reads 1 (nearest), 2 (linear) or 4 (cubic) source indices with weights computed here from the
 * coordinate transformation, so the graph is GatherV2s and weighted sums. Out-of-range taps
 * take the edge value, as ONNX's reference pads by edge; tf_crop_and_resize's positions outside
 * the input become extrapolation_value. Axes go innermost first, as the reference recurses.
 */
import type { Output } from "../../graph.ts";
import { numbers, Tensor } from "../../tensor.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

interface AxisPlan {
  /** Per tap: a source index and a weight for each output index. */
  taps: { index: number[]; weight: number[] }[];
  /** Output indices whose source lies outside (tf_crop_and_resize only). */
  outside?: boolean[];
}

function sourceCoordinate(
  mode: string,
  x: number,
  scale: number,
  inLen: number,
  outLen: number,
  roi?: [number, number],
): number {
  switch (mode) {
    case "half_pixel":
      return (x + 0.5) / scale - 0.5;
    case "half_pixel_symmetric": {
      const adjustment = outLen / (scale * inLen);
      const center = inLen / 2;
      const offset = center * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case "pytorch_half_pixel":
      return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case "align_corners":
      return outLen === 1 ? 0 : (x * (inLen - 1)) / (outLen - 1);
    case "asymmetric":
      return x / scale;
    case "tf_half_pixel_for_nn":
      return (x + 0.5) / scale;
    case "tf_crop_and_resize": {
      const [start, end] = roi!;
      return outLen > 1
        ? start * (inLen - 1) + (x * (end - start) * (inLen - 1)) / (outLen - 1)
        : 0.5 * (start + end) * (inLen - 1);
    }
  }
  throw new Error(`coordinate_transformation_mode '${mode}'`);
}

function nearest(mode: string, v: number): number {
  const f = Math.floor(v);
  switch (mode) {
    case "round_prefer_floor":
      return v - f === 0.5 ? f : Math.round(v);
    case "round_prefer_ceil":
      return v - f === 0.5 ? f + 1 : Math.round(v);
    case "floor":
      return f;
    case "ceil":
      return Math.ceil(v);
  }
  throw new Error(`nearest_mode '${mode}'`);
}

/** Keys' cubic convolution coefficients for the 4 taps around a fraction t. */
function cubicCoefficients(t: number, a: number): number[] {
  const w = (d: number) => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

function planAxis(
  c: OnnxNodeContext,
  inLen: number,
  outLen: number,
  /** The output length the coordinates use: in·scale unfloored when scales were given. */
  resizedLen: number,
  scale: number,
  roi: [number, number] | undefined,
): AxisPlan {
  const mode = c.string("mode", "nearest");
  const { coord, nearestMode } = modes(c);
  const a = c.float("cubic_coeff_a", -0.75);
  const excludeOutside = c.int("exclude_outside", 0) !== 0;
  const k = mode === "nearest" ? 1 : mode === "linear" ? 2 : mode === "cubic" ? 4 : 0;
  if (k === 0) throw c.error(`mode '${mode}' is none of nearest, linear, cubic`);
  const taps = Array.from({ length: k }, () => ({ index: [] as number[], weight: [] as number[] }));
  const outside: boolean[] = [];
  const clamp = (i: number) => Math.min(inLen - 1, Math.max(0, i));
  for (let o = 0; o < outLen; o++) {
    let s: number;
    try {
      s = sourceCoordinate(coord, o, scale, inLen, resizedLen, roi);
    } catch {
      throw c.error(`coordinate_transformation_mode '${coord}' is not one ONNX defines`);
    }
    outside.push(coord === "tf_crop_and_resize" && (s < 0 || s > inLen - 1));
    if (k === 1) {
      let n: number;
      try {
        n = nearest(nearestMode, s);
      } catch {
        throw c.error(`nearest_mode '${nearestMode}' is not one ONNX defines`);
      }
      taps[0].index.push(clamp(n));
      taps[0].weight.push(1);
      continue;
    }
    const f = Math.floor(s), t = s - f;
    const first = k === 2 ? f : f - 1;
    let w = k === 2 ? [1 - t, t] : cubicCoefficients(t, a);
    if (excludeOutside) {
      w = w.map((v, j) => (first + j < 0 || first + j >= inLen ? 0 : v));
      const sum = w.reduce((p, q) => p + q, 0);
      w = w.map((v) => v / sum);
    }
    for (let j = 0; j < k; j++) {
      taps[j].index.push(clamp(first + j));
      taps[j].weight.push(w[j]);
    }
  }
  return { taps, outside: outside.some((v) => v) ? outside : undefined };
}

function resize(
  c: OnnxNodeContext,
  x: Output,
  scalesIn: number[] | undefined,
  sizes: number[] | undefined,
  roiIn: number[] | undefined,
): Output {
  if (c.int("antialias", 0) !== 0) throw c.unsupported("antialias (opset 18)");
  if (c.ints("axes")) throw c.unsupported("the axes attribute (opset 18)");
  const dims = c.dims(x), rank = dims.length;
  const out = sizes ?? dims.map((d, i) => Math.floor(d * scalesIn![i]));
  const scales = scalesIn ?? out.map((o, i) => o / dims[i]);
  if (out.length !== rank || scales.length !== rank) {
    throw c.error(`scales or sizes must have ${rank} values, one per input dim`);
  }
  if (out.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw c.error(`the output dims [${out.join(", ")}] are not sizes`);
  }
  c.limit(
    out.reduce((a, b) => a * b, 1),
    c.maxTensorBytes / 4,
    "the resized tensor's element count",
  );
  const extrapolation = c.float("extrapolation_value", 0);
  let y = x;
  for (let axis = rank - 1; axis >= 0; axis--) {
    const roi = roiIn && roiIn.length === 2 * rank
      ? [roiIn[axis], roiIn[axis + rank]] as [number, number]
      : undefined;
    const { coord } = modes(c);
    if (coord === "tf_crop_and_resize" && !roi) throw c.error("tf_crop_and_resize needs roi");
    const identity = out[axis] === dims[axis] && scales[axis] === 1 &&
      coord !== "tf_crop_and_resize";
    if (identity) continue;
    const resized = sizes ? out[axis] : dims[axis] * scales[axis];
    const plan = planAxis(c, dims[axis], out[axis], resized, scales[axis], roi);
    const shape = new Array(rank).fill(1);
    shape[axis] = out[axis];
    let sum: Output | undefined;
    for (const tap of plan.taps) {
      const gathered = c.out("GatherV2", [y, c.ints32(tap.index), c.scalar(axis, "int32")]);
      const term = plan.taps.length === 1 ? gathered : c.out("Mul", [
        gathered,
        c.constant(Tensor.fromNumbers(x.dtype, shape, tap.weight)),
      ]);
      sum = sum ? c.out("AddV2", [sum, term]) : term;
    }
    y = sum!;
    if (plan.outside) {
      const inside = c.constant(
        new Tensor("bool", shape, Uint8Array.from(plan.outside, (v) => (v ? 0 : 1))),
      );
      y = c.out("SelectV2", [inside, y, c.scalar(extrapolation, x.dtype)]);
    }
  }
  return y === x ? c.out("Identity", [x]) : y;
}

/** Upsample (opset 7 to 9) is Resize's asymmetric transform with floor rounding. */
function modes(c: OnnxNodeContext): { coord: string; nearestMode: string } {
  if (c.node.opType === "Upsample") return { coord: "asymmetric", nearestMode: "floor" };
  return {
    coord: c.string("coordinate_transformation_mode", "half_pixel"),
    nearestMode: c.string("nearest_mode", "round_prefer_floor"),
  };
}

/** A float list input, if present and not empty. */
function floatsInput(c: OnnxNodeContext, i: number, what: string): number[] | undefined {
  if (!c.input(i)) return undefined;
  const t = c.constTensor(i, what);
  return t.size === 0 ? undefined : Array.from(numbers(t));
}

export const RESIZE_MAPPERS: Record<string, OnnxMapper> = {
  Upsample: (c) => {
    const scales = c.opset < 9 ? c.floats("scales") : floatsInput(c, 1, "scales");
    if (!scales) throw c.error("needs scales");
    return [resize(c, c.req(0), scales, undefined, undefined)];
  },
  Resize: (c) => {
    const x = c.req(0);
    if (c.opset < 11) return [resize(c, x, floatsInput(c, 1, "scales"), undefined, undefined)];
    const roi = floatsInput(c, 1, "roi");
    const scales = floatsInput(c, 2, "scales");
    const sizes = floatsInput(c, 3, "sizes")?.map(Math.trunc);
    if (!scales && !sizes) throw c.error("needs scales or sizes");
    return [resize(c, x, sizes ? undefined : scales, sizes, roi)];
  },
};
