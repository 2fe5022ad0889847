/**
 * ONNX forms of Edgeflow ops whose meaning differs from their nearest ONNX op at the edges:
 * OneHot (TensorFlow's negative index is all off, ONNX's counts from the end), TopKV2 (int32
 * indices), UnsortedSegmentSum and ScatterNd (ScatterND adding into zeros; a negative segment id
 * is dropped), Unique (the unsorted ONNX Unique's Y and inverse indices), Log1p (no ONNX op:
 * log(u)·x/(u − 1) with u = 1 + x, Kahan's form, exact where u rounds to 1), NotEqual,
 * StopGradient, and NonMaxSuppressionV3/V4/V5 (hard NMS) as ONNX's NonMaxSuppression, whose
 * IOU test is strict (see `onnxIouThreshold`).
 */
import { EdgeflowError } from "../../errors.ts";
import { constantValue, type Node } from "../../graph.ts";
import { intList, numbers, Tensor } from "../../tensor.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";
import { type Exporter, type ExportFn, int64Input } from "./onnx_export_context.ts";

/** Adds `updates` into zeros of `shape` (int64) at `indices` ([..., k] int64). */
function scatterAdd(ex: Exporter, n: Node, shape: string, indices: string, updates: string): void {
  const zeros = ex.add("Expand", [ex.scalar(0, n.outputs[0]), shape]);
  ex.add("ScatterND", [zeros, indices, updates], { reduction: "add" }, ex.out());
}

/** The float32 just below t > 0. */
function floatBelow(t: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, t);
  view.setUint32(0, view.getUint32(0) - 1);
  return view.getFloat32(0);
}

/**
 * TensorFlow suppresses an IOU of at least t, ONNX one over its threshold: the float32 below t
 * says the same for every float32 IOU. At t = 0 every other box goes (an IOU is never below 0),
 * which ONNX says with one box per class. Needs t as a constant.
 */
function onnxIouThreshold(ex: Exporter, n: Node): { threshold: string; onlyOne: boolean } {
  const v = constantValue(n.inputs[3]);
  if (!v) {
    throw new EdgeflowError("ONNX export needs iou_threshold as a constant", {
      node: n.name,
      op: n.op.name,
    });
  }
  const t = Math.fround(numbers(v)[0]);
  const threshold = new Tensor("float32", [1], Float32Array.of(t > 0 ? floatBelow(t) : 0));
  return { threshold: ex.initializer(`${n.name}/iou_threshold`, threshold), onlyOne: !(t > 0) };
}

/** NonMaxSuppressionV3/V4/V5: the selected indices (padded where asked), scores, count. */
function nonMaxSuppression(version: 3 | 4 | 5): ExportFn {
  return (ex, n) => {
    if (version === 5) {
      const sigma = constantValue(n.inputs[5]);
      if (!sigma || numbers(sigma)[0] !== 0) {
        throw new EdgeflowError(
          "ONNX export: soft NMS (soft_nms_sigma other than 0) has no ONNX form",
          {
            node: n.name,
            op: n.op.name,
          },
        );
      }
    }
    const { threshold, onlyOne } = onnxIouThreshold(ex, n);
    let max = ex.add("Reshape", [int64Input(ex, 2), ex.int64([1])]);
    if (onlyOne) max = ex.add("Min", [max, ex.int64([1])]);
    const selected = ex.add("NonMaxSuppression", [
      ex.add("Unsqueeze", [ex.in(0), ex.int64([0])]),
      ex.add("Unsqueeze", [ex.in(1), ex.int64([0, 1])]),
      max,
      threshold,
      ex.add("Reshape", [ex.in(4), ex.int64([1])]),
    ]);
    const picked = ex.add("Gather", [selected, ex.int64([2], [])], { axis: 1 });
    const count = ex.add("Shape", [picked]);
    const pad = version !== 3 && ex.attr<boolean>("pad_to_max_output_size");
    // TensorFlow pads with zeros to min(max_output_size, boxes).
    const padded = (v: string, out?: string) => {
      if (!pad) return ex.add("Identity", [v], {}, out);
      const length = ex.add("Min", [
        ex.add("Reshape", [int64Input(ex, 2), ex.int64([1])]),
        ex.add("Slice", [ex.add("Shape", [ex.in(0)]), ex.int64([0]), ex.int64([1])]),
      ]);
      const after = ex.add("Max", [ex.add("Sub", [length, count]), ex.int64([0])]);
      return ex.add("Pad", [v, ex.add("Concat", [ex.int64([0]), after], { axis: 0 })], {}, out);
    };
    const indices = ex.add("Cast", [picked], { to: dtypeToOnnx("int32") });
    padded(indices, ex.out(0));
    const valid = () =>
      ex.add("Cast", [ex.add("Squeeze", [count, ex.int64([0])])], { to: dtypeToOnnx("int32") });
    if (version === 4) ex.add("Identity", [valid()], {}, ex.out(1));
    if (version === 5) {
      padded(ex.add("Gather", [ex.in(1), picked], { axis: 0 }), ex.out(1));
      ex.add("Identity", [valid()], {}, ex.out(2));
    }
  };
}

export const SELECT_EXPORTERS: Record<string, ExportFn> = {
  NonMaxSuppressionV3: nonMaxSuppression(3),
  NonMaxSuppressionV4: nonMaxSuppression(4),
  NonMaxSuppressionV5: nonMaxSuppression(5),
  NotEqual: (ex) => void ex.add("Not", [ex.add("Equal", [ex.in(0), ex.in(1)])], {}, ex.out()),
  StopGradient: (ex) => void ex.add("Identity", [ex.in(0)], {}, ex.out()),
  Log1p: (ex, n) => {
    const x = ex.in(0), u = ex.add("Add", [x, ex.scalar(1, n.inputs[0])]);
    const kahan = ex.add("Mul", [
      ex.add("Log", [u]),
      ex.add("Div", [x, ex.add("Sub", [u, ex.scalar(1, n.inputs[0])])]),
    ]);
    // u = Inf: log(u)·Inf/Inf would be NaN where log1p(Inf) is Inf.
    const finite = ex.add("Where", [ex.add("IsInf", [u]), u, kahan]);
    ex.add("Where", [ex.add("Equal", [u, ex.scalar(1, n.inputs[0])]), x, finite], {}, ex.out());
  },
  OneHot: (ex, n) => {
    const indices = ex.add("Cast", [ex.in(0)], { to: dtypeToOnnx("int64") });
    // A negative index: out of ONNX's [-depth, depth), so all off as in TensorFlow.
    const depth = int64Input(ex, 1);
    const safe = ex.add("Where", [ex.add("Less", [indices, ex.int64([0], [])]), depth, indices]);
    // onnxruntime has OneHot for int64 indices and depth with float or int64 values: other value
    // dtypes go through one of those (exactly) and back.
    const dtype = n.outputs[0].dtype;
    const via = dtype === "float32" || dtype === "float16" || dtype === "bfloat16"
      ? "float32"
      : "int64";
    const as = (i: number) =>
      dtype === via ? ex.in(i) : ex.add("Cast", [ex.in(i)], { to: dtypeToOnnx(via) });
    const axis0 = ex.int64([0]);
    const values = ex.add("Concat", [
      ex.add("Unsqueeze", [as(3), axis0]),
      ex.add("Unsqueeze", [as(2), axis0]),
    ], { axis: 0 });
    const attrs = { axis: ex.attr<number>("axis") };
    if (dtype === via) return void ex.add("OneHot", [safe, depth, values], attrs, ex.out());
    const hot = ex.add("OneHot", [safe, depth, values], attrs);
    ex.add("Cast", [hot], { to: dtypeToOnnx(dtype) }, ex.out());
  },
  TopKV2: (ex, n) => {
    const k = ex.add("Reshape", [int64Input(ex, 1), ex.int64([1])]);
    const values = ex.out(0), indices64 = `${n.name}/indices64`;
    ex.nodes.push({
      op: "TopK",
      name: `${n.name}/TopK`,
      inputs: [ex.in(0), k],
      outputs: [values, indices64],
      attrs: { axis: -1, largest: 1, sorted: 1 },
    });
    ex.add("Cast", [indices64], { to: dtypeToOnnx("int32") }, ex.out(1));
  },
  UnsortedSegmentSum: (ex, n) => {
    const [data, ids] = n.inputs;
    const idRank = ids.shape!.length, dataRank = data.shape!.length;
    const id64 = int64Input(ex, 1);
    const dropped = ex.add("Less", [id64, ex.int64([0], [])]);
    // Dropped rows add zeros at row 0.
    const indices = ex.add("Unsqueeze", [
      ex.add("Where", [dropped, ex.int64([0], []), id64]),
      ex.int64([idRank]),
    ]);
    const mask = ex.add("Reshape", [
      dropped,
      ex.int64([
        ...ids.shape!.map((d) => (d < 0 ? 0 : d)),
        ...new Array(dataRank - idRank).fill(1),
      ]),
    ]);
    const updates = ex.add("Where", [mask, ex.scalar(0, data), ex.in(0)]);
    // A shape known here stays a constant: importers (Edgeflow's own) then know the output's.
    const count = constantValue(n.inputs[2]), tail = data.shape!.slice(idRank);
    const known = count && tail.every((d) => d >= 0);
    const shape = known ? ex.int64([intList(count)[0], ...tail]) : ex.add("Concat", [
      ex.add("Reshape", [int64Input(ex, 2), ex.int64([1])]),
      ex.add("Slice", [ex.add("Shape", [ex.in(0)]), ex.int64([idRank]), ex.int64([dataRank])]),
    ], { axis: 0 });
    scatterAdd(ex, n, shape, indices, updates);
  },
  ScatterNd: (ex, n) => scatterAdd(ex, n, int64Input(ex, 2), int64Input(ex, 0), ex.in(1)),
  Unique: (ex, n) => {
    // onnxruntime's Unique takes float32 and int64 (int8, strings): others go through those.
    const dtype = n.inputs[0].dtype;
    const via = dtype === "float16" || dtype === "bfloat16"
      ? "float32"
      : dtype === "float32"
      ? dtype
      : "int64";
    const x = dtype === via ? ex.in(0) : ex.add("Cast", [ex.in(0)], { to: dtypeToOnnx(via) });
    const y = dtype === via ? ex.out(0) : `${n.name}/unique_${via}`,
      inverse = `${n.name}/inverse64`;
    ex.nodes.push({
      op: "Unique",
      name: `${n.name}/Unique`,
      inputs: [x],
      outputs: [y, "", inverse],
      attrs: { sorted: 0 },
    });
    if (dtype !== via) ex.add("Cast", [y], { to: dtypeToOnnx(dtype) }, ex.out(0));
    ex.add("Cast", [inverse], { to: dtypeToOnnx(n.outputs[1].dtype) }, ex.out(1));
  },
};
