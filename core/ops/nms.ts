/**
 * NonMaxSuppressionV3, V4 and V5: greedy selection of boxes by descending score, dropping those
 * overlapping a selected box by IOU ≥ iou_threshold; V4 pads the indices to max_output_size and
 * counts the valid ones; V5 adds soft-NMS (Bodla et al.: a score decays by exp(-IOU²/(2σ)) per
 * overlapping selected box, and re-enters the queue while above score_threshold) and returns the
 * selected scores. Padding is to min(max_output_size, num_boxes), as TensorFlow's kernel pads. The algorithm is TensorFlow's DoNonMaxSuppressionOp step for step, in float32:
 * candidates are scores > score_threshold (a NaN score never is), popped highest first with ties
 * to the lower index; IOU uses std::min/max, so NaN coordinates behave as in TensorFlow. Boxes
 * are [y1, x1, y2, x2] in either corner order. float32 only (TensorFlow also takes float16).
 * No gradient (TensorFlow has none).
 */
import { EdgeflowError } from "../errors.ts";
import { defineOp, type InferInput, type InputCheck, type OpDef, type TensorSpec } from "../op.ts";
import { formatShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor, seededRandom } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import { apply, type BuildOptions, type TensorLike } from "./build.ts";
import type { Output } from "../graph.ts";

const f = Math.fround;

/** std::min and std::max as C++ defines them: the first argument unless the second compares. */
const cMin = (a: number, b: number) => (b < a ? b : a);
const cMax = (a: number, b: number) => (a < b ? b : a);

/** TensorFlow's IOU of boxes i and j, in float32. */
function iou(b: ArrayLike<number>, i: number, j: number): number {
  const yminI = cMin(b[4 * i], b[4 * i + 2]), xminI = cMin(b[4 * i + 1], b[4 * i + 3]);
  const ymaxI = cMax(b[4 * i], b[4 * i + 2]), xmaxI = cMax(b[4 * i + 1], b[4 * i + 3]);
  const yminJ = cMin(b[4 * j], b[4 * j + 2]), xminJ = cMin(b[4 * j + 1], b[4 * j + 3]);
  const ymaxJ = cMax(b[4 * j], b[4 * j + 2]), xmaxJ = cMax(b[4 * j + 1], b[4 * j + 3]);
  const areaI = f(f(ymaxI - yminI) * f(xmaxI - xminI));
  const areaJ = f(f(ymaxJ - yminJ) * f(xmaxJ - xminJ));
  if (areaI <= 0 || areaJ <= 0) return 0;
  const iymin = cMax(yminI, yminJ), ixmin = cMax(xminI, xminJ);
  const iymax = cMin(ymaxI, ymaxJ), ixmax = cMin(xmaxI, xmaxJ);
  const inter = f(cMax(f(iymax - iymin), 0) * cMax(f(ixmax - ixmin), 0));
  return f(inter / f(f(areaI + areaJ) - inter));
}

interface Candidate {
  box: number;
  score: number;
  suppressBegin: number;
}

/** TensorFlow's priority queue order: higher score first, ties to the lower box index. */
function before(a: Candidate, b: Candidate): boolean {
  return a.score > b.score || (a.score === b.score && a.box < b.box);
}

/** Selected box indices and their (possibly soft-suppressed) scores. */
export function nonMaxSuppression(
  boxes: ArrayLike<number>,
  scores: ArrayLike<number>,
  maxOutput: number,
  iouThreshold: number,
  scoreThreshold: number,
  sigma: number,
): { indices: number[]; scores: number[] } {
  const threshold = f(iouThreshold), minScore = f(scoreThreshold);
  const scale = sigma > 0 ? f(-0.5 / f(sigma)) : 0;
  const weight = (sim: number) => (sim <= threshold ? f(Math.exp(f(f(scale * sim) * sim))) : 0);
  const queue: Candidate[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] > minScore) queue.push({ box: i, score: scores[i], suppressBegin: 0 });
  }
  const indices: number[] = [], selectedScores: number[] = [];
  while (indices.length < maxOutput && queue.length > 0) {
    let top = 0;
    for (let i = 1; i < queue.length; i++) if (before(queue[i], queue[top])) top = i;
    const next = queue.splice(top, 1)[0];
    const original = next.score;
    let hard = false;
    for (let j = indices.length - 1; j >= next.suppressBegin; j--) {
      const sim = iou(boxes, next.box, indices[j]);
      next.score = f(next.score * weight(sim));
      if (sim >= threshold) {
        hard = true;
        break;
      }
      if (next.score <= minScore) break;
    }
    next.suppressBegin = indices.length;
    if (hard) continue;
    if (next.score === original) {
      indices.push(next.box);
      selectedScores.push(next.score);
    } else if (next.score > minScore) {
      queue.push(next);
    }
  }
  return { indices, scores: selectedScores };
}

function scalarOf(t: Tensor, what: string): number {
  if (t.rank !== 0) {
    throw new EdgeflowError(`${what} must be 0-D, got shape ${formatShape(t.shape)}`);
  }
  return numbers(t)[0];
}

/** TensorFlow's checks on the boxes, scores and scalar arguments' shapes. */
function inferCommon(inputs: readonly InferInput[]): void {
  const [boxes, scores, ...scalars] = inputs;
  if (boxes.shape !== null) {
    if (boxes.shape.length !== 2) {
      throw new EdgeflowError(`boxes must be 2-D, got shape ${formatShape(boxes.shape)}`);
    }
    if (boxes.shape[1] >= 0 && boxes.shape[1] !== 4) {
      throw new EdgeflowError(`boxes must have 4 columns, got shape ${formatShape(boxes.shape)}`);
    }
  }
  if (scores.shape !== null) {
    if (scores.shape.length !== 1) {
      throw new EdgeflowError(`scores must be 1-D, got shape ${formatShape(scores.shape)}`);
    }
    const n = boxes.shape?.[0] ?? -1, m = scores.shape[0];
    if (n >= 0 && m >= 0 && n !== m) {
      throw new EdgeflowError(`scores has incompatible shape: ${m} scores for ${n} boxes`);
    }
  }
  const names = ["max_output_size", "iou_threshold", "score_threshold", "soft_nms_sigma"];
  scalars.forEach((s, i) => {
    if (s.shape !== null && s.shape.length !== 0) {
      throw new EdgeflowError(`${names[i]} must be 0-D, got shape ${formatShape(s.shape)}`);
    }
  });
}

/** The run-time refusals: iou_threshold in [0, 1], soft_nms_sigma ≥ 0 (V5), shapes. */
// deno-lint-ignore no-explicit-any
const argumentsInRange: InputCheck<any> = {
  reads: [2, 3, 4, -1],
  run(values, specs) {
    inferCommon(specs);
    const boxes = specs[0].shape!, scores = specs[1].shape!;
    if (boxes[0] !== scores[0]) {
      throw new EdgeflowError(
        `scores has incompatible shape: ${scores[0]} scores for ${boxes[0]} boxes`,
      );
    }
    if (scalarOf(values[2]!, "max_output_size") < 0) {
      throw new EdgeflowError("output size must be non-negative");
    }
    const t = scalarOf(values[3]!, "iou_threshold");
    if (!(t >= 0 && t <= 1)) throw new EdgeflowError(`iou_threshold must be in [0, 1], got ${t}`);
    scalarOf(values[4]!, "score_threshold");
    if (values.length === 6) {
      const sigma = scalarOf(values[5]!, "soft_nms_sigma");
      if (!(sigma >= 0)) {
        throw new EdgeflowError(`soft_nms_sigma must be non-negative, got ${sigma}`);
      }
    }
  },
};

type NmsAttrs = { T: "float32"; pad_to_max_output_size: boolean };
type V3Attrs = { T: "float32" };

const INPUTS = [
  { name: "boxes", type: "T" },
  { name: "scores", type: "T" },
  { name: "max_output_size", type: "int32" },
  { name: "iou_threshold", type: "float32" },
  { name: "score_threshold", type: "float32" },
];
const T_ATTR = { kind: "type", allowed: ["float32"] } as const;
const PAD_ATTR = { kind: "bool", default: false } as const;

function run(inputs: readonly Tensor[]) {
  const [boxes, scores, max, iouT, scoreT, sigma] = inputs;
  return nonMaxSuppression(
    numbers(boxes),
    numbers(scores),
    numberAt0(max),
    numberAt0(iouT),
    numberAt0(scoreT),
    sigma ? numberAt0(sigma) : 0,
  );
}
const numberAt0 = (t: Tensor) => numbers(t)[0];

/**
 * The output length: with padding, TensorFlow's output_size = min(max_output_size, num_boxes)
 * (DoNonMaxSuppressionOp), else the number selected.
 */
function paddedLength(selected: number, pad: boolean, max: number, boxes: number): number {
  return pad ? Math.max(Math.min(max, boxes), selected) : selected;
}

/** The indices, padded with zeros to the output size where asked. */
function selectedIndices(indices: number[], pad: boolean, max: number, boxes: number): Tensor {
  const n = paddedLength(indices.length, pad, max, boxes);
  const out = new Int32Array(n);
  out.set(indices);
  return new Tensor("int32", [n], out);
}

function outputLength(inputs: readonly InferInput[], pad: boolean): number {
  const max = inputs[2].value ? numberAt0(inputs[2].value) : undefined;
  const boxes = inputs[0].shape?.[0] ?? -1;
  return pad && max !== undefined && boxes >= 0 ? Math.max(Math.min(max, boxes), 0) : -1;
}

/** Boxes drawn in a small field so many overlap; some corners swapped, some scores repeated. */
function arbCase(
  fc: FastCheck,
  version: 3 | 4 | 5,
  invalid = false,
): Arbitrary<{ inputs: Tensor[]; attrs: Partial<NmsAttrs> }> {
  // Invalid cases: an IOU threshold outside [0, 1], or a negative output size.
  return fc.tuple(fc.integer({ min: 0, max: 12 }), fc.nat(), fc.boolean()).map(
    ([n, seed, pad]) => {
      const rand = seededRandom(seed);
      const b = new Float32Array(n * 4);
      for (let i = 0; i < n; i++) {
        const y = rand() * 4, x = rand() * 4, h = 0.5 + rand() * 2, w = 0.5 + rand() * 2;
        const flip = rand() < 0.2;
        b.set(flip ? [y + h, x + w, y, x] : [y, x, y + h, x + w], i * 4);
      }
      const scores = randomTensor("float32", [n], seed + 1, {
        min: 0,
        max: 1,
        exact: seed % 3 === 0,
      });
      const badSize = invalid && seed % 3 === 0;
      const iouT = invalid && !badSize
        ? (seed % 2 ? 1 + rand() : -rand() - 0.01)
        : [0, 0.3, 0.5, 1][seed % 4];
      const scoreT = [-Infinity, 0.25, 0.5][seed % 3];
      const inputs = [
        new Tensor("float32", [n, 4], b),
        scores,
        new Tensor("int32", [], Int32Array.of(badSize ? -1 - (seed % 2) : seed % (n + 3))),
        new Tensor("float32", [], Float32Array.of(iouT)),
        new Tensor("float32", [], Float32Array.of(scoreT)),
      ];
      if (version === 5) {
        inputs.push(new Tensor("float32", [], Float32Array.of([0, 0, 0.5, 1][(seed >> 2) % 4])));
      }
      return { inputs, attrs: version === 3 ? {} : { pad_to_max_output_size: pad } };
    },
  );
}

export const NonMaxSuppressionV3: OpDef<V3Attrs> = defineOp<V3Attrs>({
  name: "NonMaxSuppressionV3",
  inputs: INPUTS,
  outputs: [{ name: "selected_indices", type: "int32" }],
  hostMemory: { inputs: [2, 3, 4] },
  checks: [argumentsInRange],
  attrs: { T: T_ATTR },
  infer: (inputs): TensorSpec[] => {
    inferCommon(inputs);
    return [{ dtype: "int32", shape: [-1] }];
  },
  reference: (inputs) => [selectedIndices(run(inputs).indices, false, 0, 0)],
  arbitrary: (fc) => arbCase(fc, 3),
  invalidArbitrary: (fc) => arbCase(fc, 3, true),
});

export const NonMaxSuppressionV4: OpDef<NmsAttrs> = defineOp<NmsAttrs>({
  name: "NonMaxSuppressionV4",
  inputs: INPUTS,
  outputs: [
    { name: "selected_indices", type: "int32" },
    { name: "valid_outputs", type: "int32" },
  ],
  hostMemory: { inputs: [2, 3, 4] },
  checks: [argumentsInRange],
  attrs: { T: T_ATTR, pad_to_max_output_size: PAD_ATTR },
  infer: (inputs, { pad_to_max_output_size: pad }) => {
    inferCommon(inputs);
    return [
      { dtype: "int32", shape: [outputLength(inputs, pad)] },
      { dtype: "int32", shape: [] },
    ];
  },
  reference: (inputs, { pad_to_max_output_size: pad }) => {
    const { indices } = run(inputs);
    return [
      selectedIndices(indices, pad, numberAt0(inputs[2]), inputs[0].shape[0]),
      new Tensor("int32", [], Int32Array.of(indices.length)),
    ];
  },
  arbitrary: (fc) => arbCase(fc, 4),
  invalidArbitrary: (fc) => arbCase(fc, 4, true),
});

export const NonMaxSuppressionV5: OpDef<NmsAttrs> = defineOp<NmsAttrs>({
  name: "NonMaxSuppressionV5",
  inputs: [
    { name: "boxes", type: "T" },
    { name: "scores", type: "T" },
    { name: "max_output_size", type: "int32" },
    { name: "iou_threshold", type: "T" },
    { name: "score_threshold", type: "T" },
    { name: "soft_nms_sigma", type: "T" },
  ],
  outputs: [
    { name: "selected_indices", type: "int32" },
    { name: "selected_scores", type: "T" },
    { name: "valid_outputs", type: "int32" },
  ],
  hostMemory: { inputs: [2, 3, 4, 5] },
  checks: [argumentsInRange],
  attrs: { T: T_ATTR, pad_to_max_output_size: PAD_ATTR },
  infer: (inputs, { pad_to_max_output_size: pad }) => {
    inferCommon(inputs);
    const n = outputLength(inputs, pad);
    return [
      { dtype: "int32", shape: [n] },
      { dtype: "float32", shape: [n] },
      { dtype: "int32", shape: [] },
    ];
  },
  reference: (inputs, { pad_to_max_output_size: pad }) => {
    const { indices, scores } = run(inputs);
    const max = numberAt0(inputs[2]), boxes = inputs[0].shape[0];
    const s = new Float32Array(paddedLength(indices.length, pad, max, boxes));
    s.set(scores);
    return [
      selectedIndices(indices, pad, max, boxes),
      new Tensor("float32", [s.length], s),
      new Tensor("int32", [], Int32Array.of(indices.length)),
    ];
  },
  arbitrary: (fc) => arbCase(fc, 5),
  invalidArbitrary: (fc) => arbCase(fc, 5, true),
});

export interface NmsOptions extends BuildOptions {
  iouThreshold?: TensorLike;
  scoreThreshold?: TensorLike;
}

/** tf.image.non_max_suppression (V3): the selected box indices. */
export function nonMaxSuppressionV3(
  boxes: TensorLike,
  scores: TensorLike,
  maxOutputSize: TensorLike,
  options: NmsOptions = {},
): Output {
  const { iouThreshold = 0.5, scoreThreshold = -Infinity, ...rest } = options;
  return apply(
    NonMaxSuppressionV3,
    [boxes, scores, maxOutputSize, iouThreshold, scoreThreshold],
    rest,
  ).outputs[0];
}

/** tf.image.non_max_suppression_with_scores (V5): indices, scores and the valid count. */
export function nonMaxSuppressionV5(
  boxes: TensorLike,
  scores: TensorLike,
  maxOutputSize: TensorLike,
  options: NmsOptions & { softNmsSigma?: TensorLike; padToMaxOutputSize?: boolean } = {},
): [Output, Output, Output] {
  const {
    iouThreshold = 0.5,
    scoreThreshold = -Infinity,
    softNmsSigma = 0,
    padToMaxOutputSize = false,
    ...rest
  } = options;
  const node = apply(
    NonMaxSuppressionV5,
    [boxes, scores, maxOutputSize, iouThreshold, scoreThreshold, softNmsSigma],
    { ...rest, pad_to_max_output_size: padToMaxOutputSize },
  );
  return [node.outputs[0], node.outputs[1], node.outputs[2]];
}

export const NMS_OPS = [NonMaxSuppressionV3, NonMaxSuppressionV4, NonMaxSuppressionV5] as const;
