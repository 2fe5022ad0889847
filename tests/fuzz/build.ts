// Builds a fuzz case's graph and feeds from its recipe. Each node's inputs and attrs are read
// from its tape against the static shapes built so far, so most drawn graphs are valid (fitting
// shapes, axes in range) and the rest are wrong in one place. A node that graph building refuses
// with an EdgeflowError is left out and recorded; any other error escapes (a bug).
import { type DType, NUMERIC_DTYPES } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import { Graph, type Node, type Output } from "../../core/graph.ts";
import type { AttrSpec, AttrValue, OpDef } from "../../core/op.ts";
import { Placeholder } from "../../core/ops/basic.ts";
import { Const } from "../../core/ops/const.ts";
import { getOp } from "../../core/ops/registry.ts";
import type { PassOptions } from "../../core/passes/pipeline.ts";
import type { FeedValue } from "../../core/session.ts";
import { formatShape, type PartialShape, type Shape, sizeOf } from "../../core/shape.ts";
import { Tensor } from "../../core/tensor.ts";
import type { CaseRecipe, NodeRecipe, SourceRecipe } from "./recipe.ts";
import { Tape, valueOf } from "./tape.ts";

/** Outputs bigger than this (statically) are neither fetched nor used as inputs. */
const MAX_ELEMENTS = 1 << 16;

export interface BuiltCase {
  graph: Graph;
  feeds: [Output, FeedValue][];
  fetches: Output[];
  passes: PassOptions;
  /** Nodes the graph refused, with the reason (a valid outcome, counted). */
  refused: string[];
}

export function buildCase(recipe: CaseRecipe): BuiltCase {
  const b = new Builder();
  recipe.sources.forEach((s, i) => b.source(s, i));
  const sources = b.pool.length;
  for (const r of recipe.nodes) b.node(r);
  const built = b.pool.slice(sources);
  const consumed = new Set(b.graph.nodes.flatMap((n) => n.inputs));
  const fetches = new Set(built.filter((o) => !consumed.has(o)));
  for (const i of recipe.extraFetches) {
    if (b.pool.length > 0) fetches.add(b.pool[i % b.pool.length]);
  }
  if (fetches.size === 0 && b.pool.length > 0) fetches.add(b.pool[0]);
  return {
    graph: b.graph,
    feeds: b.feeds,
    fetches: [...fetches],
    passes: { constantFolding: recipe.constantFolding, cse: recipe.cse },
    refused: b.refused,
  };
}

/** A readable listing of the graph and feeds, for counterexamples. */
export function describeCase(c: BuiltCase): string {
  const lines = c.graph.nodes.map((n) => {
    const attrs = Object.entries(n.attrs).map(([k, v]) => `${k}=${formatAttr(v)}`).join(" ");
    const outs = n.outputSpecs.map((s) => `${s.dtype}${formatShape(s.shape)}`).join(", ");
    return `  ${n.name} = ${n.op.name}(${
      n.inputs.map((o) => o.name).join(", ")
    }) ${attrs} -> ${outs}`;
  });
  const feeds = c.feeds.map(([o, v]) => `  feed ${o.name} = ${formatFeed(v)}`);
  return [
    ...lines,
    ...feeds,
    `  fetch ${c.fetches.map((o) => o.name).join(", ")}`,
    `  passes ${JSON.stringify(c.passes)}`,
    ...c.refused.map((r) => `  refused while building: ${r}`),
  ].join("\n");
}

function formatAttr(v: unknown): string {
  if (v instanceof Tensor) return formatFeed(v);
  return JSON.stringify(v);
}
function formatFeed(v: FeedValue): string {
  if (v instanceof Tensor) {
    const values = Array.from(
      v.data as ArrayLike<unknown>,
      (x) =>
        typeof x === "bigint" ? `${x}n` : typeof x === "string" ? JSON.stringify(x) : String(x),
    );
    return `${v.dtype}${formatShape(v.shape)} [${values.join(", ")}]`;
  }
  return JSON.stringify(
    v,
    (_, x) => typeof x === "bigint" ? `${x}n` : x === undefined ? "<undefined>" : x,
  );
}

// ---- tensors from tapes -----------------------------------------------------------------------

export function tensorOf(dtype: DType, shape: Shape, t: Tape): Tensor {
  const n = sizeOf(shape);
  if (dtype === "string" || dtype === "resource") {
    return new Tensor(
      dtype,
      shape,
      Array.from({ length: n }, () => String(valueOf("string", t.raw()))),
    );
  }
  if (dtype === "int64") {
    const data = BigInt64Array.from({ length: n }, () => BigInt(valueOf("int64", t.raw())));
    return new Tensor("int64", shape, data);
  }
  return Tensor.fromNumbers(
    dtype,
    shape,
    Array.from({ length: n }, () => Number(valueOf(dtype, t.raw()))),
  );
}

function intTensor(dtype: DType, shape: Shape, values: readonly number[]): Tensor {
  if (dtype === "int64") return new Tensor("int64", shape, BigInt64Array.from(values, BigInt));
  return Tensor.fromNumbers(dtype, shape, values);
}

// Index values drawn freely: small, negative, and ±2^40, which no allocation can satisfy (as
// int32 they wrap to 0). Sizes between (-2^31: Range(3, -2^31, -1) is 16 GiB of int64) would be
// allocated on REF and the TPU, which have no memory bound yet, and take the host down.
const WILD_INTS = [-3, -2, -1, 0, 1, 2, 3, 4, 5, 1, 2, -(2 ** 40), 2 ** 40];

// ---- the builder -----------------------------------------------------------------------------

class Builder {
  readonly graph = new Graph();
  /** Outputs later nodes may take as inputs (and the fetch candidates). */
  readonly pool: Output[] = [];
  readonly feeds: [Output, FeedValue][] = [];
  readonly refused: string[] = [];
  private fresh = 0;

  source(s: SourceRecipe, i: number): void {
    const t = new Tape(s.knobs);
    const value = tensorOf(s.dtype, s.dims, t);
    if (s.kind === "const") {
      this.pool.push(this.constant(value, `c${i}`));
      return;
    }
    const declared: PartialShape = s.declared === "full"
      ? s.dims
      : s.declared === "partial"
      ? s.dims.map((d, k) => (k % 2 === 0 ? -1 : d))
      : null;
    const p = this.graph.addNode(Placeholder, [], { dtype: s.dtype, shape: declared }, {
      name: `p${i}`,
    }).outputs[0];
    this.pool.push(p);
    const feed = badFeed(s, value, t);
    if (feed !== undefined) this.feeds.push([p, feed]);
  }

  constant(value: Tensor, name?: string): Output {
    return this.graph.addNode(Const, [], { value, dtype: value.dtype }, {
      name: name ?? `k${this.fresh++}`,
    }).outputs[0];
  }

  /** A new input holding `value`: a Const mostly, a fed placeholder sometimes (dynamic shapes). */
  input(value: Tensor, t: Tape): Output {
    if (!t.oneIn(4)) return this.constant(value);
    const p = this.graph.addNode(Placeholder, [], {
      dtype: value.dtype,
      shape: t.oneIn(2) ? null : value.shape,
    }, { name: `f${this.fresh++}` }).outputs[0];
    this.feeds.push([p, value]);
    return p;
  }

  node(r: NodeRecipe): void {
    const op = getOp(r.op);
    const t = new Tape(r.knobs);
    let node: Node;
    try {
      const draw = new NodeDraw(this, op, t, r.sensible);
      node = this.graph.addNode(op, draw.inputs(), draw.attrs, { name: op.name });
    } catch (e) {
      if (!(e instanceof EdgeflowError)) throw e;
      this.refused.push(e.message);
      return;
    }
    for (const o of node.outputs) {
      const s = o.shape;
      if (s !== null && s.every((d) => d >= 0) && sizeOf(s) > MAX_ELEMENTS) continue;
      this.pool.push(o);
    }
  }
}

/** A placeholder's feed: its value, or the value wrong in the way the recipe says. */
function badFeed(s: SourceRecipe, value: Tensor, t: Tape): FeedValue | undefined {
  switch (s.feed) {
    case "ok":
      return value;
    case "missing":
      return undefined;
    case "wrongShape": {
      const dims = t.oneIn(2) ? [...s.dims, 2] : s.dims.slice(1);
      return tensorOf(s.dtype, dims, t);
    }
    case "wrongDType": {
      const other = NUMERIC_DTYPES.filter((d) => d !== s.dtype);
      return tensorOf(t.pick(other), s.dims, t);
    }
    case "nested":
      return value.dtype === "int64" ? value : value.toArray();
    case "nonNumber": {
      const nested = value.toArray();
      const junk = t.pick(["abc", null, undefined, {}, [], "1.5", true, 10n] as unknown[]);
      if (!Array.isArray(nested)) return junk as FeedValue;
      let inner: unknown[] = nested;
      while (Array.isArray(inner[0])) inner = inner[0] as unknown[];
      if (inner.length > 0) inner[t.int(inner.length)] = junk;
      else inner.push(junk);
      return nested;
    }
    case "ragged": {
      const nested = value.toArray();
      if (!Array.isArray(nested) || nested.length === 0) return [[1, 2], [3]];
      return [...nested.slice(0, -1), [nested[nested.length - 1], 7]];
    }
  }
}

// ---- one node's inputs and attrs -------------------------------------------------------------

const INDEX_TYPES = [
  "Tidx",
  "Tshape",
  "Tperm",
  "Index",
  "Tpaddings",
  "Tmultiples",
  "Tindices",
  "Taxis",
  "index_type",
  "Tdim",
  "TI",
  "Tlabels",
  "Tlabels",
];

class NodeDraw {
  /** The primary data input (the one carrying the op's type attr), or undefined. */
  readonly first?: Output;
  readonly attrs: Record<string, AttrValue> = {};
  private readonly rank: number;
  /** The primary input's dims, unknown ones drawn small. */
  private readonly shape: number[];

  constructor(
    private readonly b: Builder,
    private readonly op: OpDef,
    private readonly t: Tape,
    private readonly sensible: boolean,
  ) {
    if (b.pool.length > 0) this.first = b.pool[t.int(b.pool.length)];
    const shape = this.first?.shape;
    this.rank = shape ? shape.length : t.int(4);
    this.shape = shape
      ? shape.map((d) => (d < 0 ? 1 + t.int(3) : d))
      : Array.from({ length: this.rank }, () => 1 + t.int(3));
    this.drawAttrs();
  }

  /** Whether this draw fits the op: mostly when the node is sensible, sometimes regardless. */
  private fits(): boolean {
    return this.sensible ? !this.t.oneIn(12) : this.t.oneIn(2);
  }

  private dim(axis: number): number {
    return this.shape[axis < 0 ? this.shape.length + axis : axis] ?? 1;
  }
  private dims(): number[] {
    return this.shape.slice();
  }
  private dtype(): DType {
    return this.first?.dtype ?? "float32";
  }

  // ---- attrs ----

  private drawAttrs(): void {
    const specs = this.op.attrs as Record<string, AttrSpec<AttrValue>>;
    const fromInputs = new Set(this.op.inputs.flatMap((s) => [s.type, s.numberAttr ?? ""]));
    // String attrs (padding, data_format) first: the window attrs follow the data format.
    const order = Object.entries(specs).sort(([, a], [, b]) =>
      Number(b.kind === "string") - Number(a.kind === "string")
    );
    for (const [name, spec] of order) {
      if (fromInputs.has(name)) {
        // A type attr contradicting the inputs now and then: graph building must refuse it.
        if (!this.sensible && spec.kind === "type" && this.t.oneIn(6)) {
          this.attrs[name] = this.t.pick(NUMERIC_DTYPES);
        }
        continue;
      }
      const v = this.fits() ? this.fittingAttr(name, spec) : this.wildAttr(name, spec);
      if (v !== undefined) this.attrs[name] = v;
    }
  }

  private fittingAttr(name: string, spec: AttrSpec<AttrValue>): AttrValue | undefined {
    const t = this.t, rank = this.rank;
    if (spec.allowed && spec.kind !== "type") return t.pick(spec.allowed);
    switch (name) {
      case "axis":
        return this.op.name === "OneHot"
          ? t.range(-1, rank)
          : t.range(-rank, Math.max(rank - 1, 0));
      case "num":
        return this.dim(typeof this.attrs.axis === "number" ? this.attrs.axis : 0);
      case "batch_dims":
        return t.range(0, 1);
      case "begin_mask":
      case "end_mask":
      case "ellipsis_mask":
      case "new_axis_mask":
      case "shrink_axis_mask":
        return t.oneIn(2) ? 0 : t.int(1 << Math.max(rank, 1));
      case "strides":
      case "ksize":
        return this.window(1 + t.int(3), 1 + t.int(3));
      case "dilations":
        return t.oneIn(3) ? this.window(2, 1 + t.int(2)) : [1, 1, 1, 1];
      case "explicit_paddings":
        return this.attrs.padding === "EXPLICIT"
          ? [0, 0, t.int(3), t.int(3), t.int(3), t.int(3), 0, 0]
          : [];
      case "squeeze_dims": {
        const ones = this.dims().flatMap((d, i) => (d === 1 ? [i] : []));
        return t.oneIn(2) ? [] : ones;
      }
      case "shape":
        return t.oneIn(3) ? null : this.first?.shape ?? null;
      case "seed":
      case "seed2":
        return undefined;
    }
    switch (spec.kind) {
      case "type":
        return t.pick((spec.allowed as DType[] | undefined) ?? NUMERIC_DTYPES);
      case "bool":
        return t.oneIn(2);
      case "float":
        return t.pick([0.2, 1e-3, 1, 0, 0.5, -1, NaN]);
      case "int":
        return t.range(-1, 3);
      default:
        return spec.default;
    }
  }

  /** NHWC windows by default, NCHW when the node's data_format says so. */
  private window(h: number, w: number): number[] {
    return this.attrs.data_format === "NCHW" ? [1, 1, h, w] : [1, h, w, 1];
  }

  /** An attr drawn without regard to the op: wrong length, out of range, wrong kind. */
  private wildAttr(name: string, spec: AttrSpec<AttrValue>): AttrValue | undefined {
    const t = this.t;
    if (t.oneIn(3)) return undefined; // the default
    // Unpack's output count against an unknown dim is taken as given: 2^31 outputs would be
    // built (tens of seconds, GiBs) before any check, so the count stays in the thousands.
    if (name === "num") return t.pick([-1, 0, 3, 7, 1000]);
    switch (spec.kind) {
      case "int":
        return t.pick([-7, -1, 0, 1, 2, 5, 31, 2 ** 31, 1.5]);
      case "float":
        return t.pick([NaN, Infinity, -1, 1e30]);
      case "bool":
        return t.pick([true, false, 1 as unknown as boolean]);
      case "string":
        return t.pick(["SAME", "VALID", "NCHW", "bogus", ""]);
      case "type":
        return t.pick(["float32", "int64", "string", "bogus"] as DType[]);
      case "list(int)":
        return Array.from({ length: t.int(6) }, () => t.pick(WILD_INTS.slice(0, 11)));
      case "shape":
        return t.pick([null, [], [-1], [2, -1], [3, 0]]);
      default:
        return spec.default;
    }
  }

  // ---- inputs ----

  inputs(): (Output | Output[])[] {
    return this.op.inputs.map((spec, i) => {
      if (spec.numberAttr) return this.list();
      if (INDEX_TYPES.includes(spec.type) || (spec.type === "int32" && spec.name === "depth")) {
        return this.indexInput(spec.name, spec.type);
      }
      return this.dataInput(spec.name, spec.type, i);
    });
  }

  private pick(): Output {
    const pool = this.b.pool;
    if (pool.length === 0 || this.t.oneIn(8)) {
      const dtype = this.t.pick(NUMERIC_DTYPES);
      // A constant as large as the node's first input, unless that shape is unknown in part or
      // too large to write out (then a scalar): the harness must not fail on its own arrays.
      const dims = this.dims();
      const small = dims.every((d) => d >= 0) && sizeOf(dims) <= 1 << 16;
      return this.b.input(tensorOf(dtype, small ? dims : [], this.t), this.t);
    }
    return pool[this.t.int(pool.length)];
  }

  /** A pool output of `dtype` and `shape` where one exists, else a new input of them. */
  private partner(dtype: DType, shape: Shape): Output {
    const same = this.b.pool.filter((o) =>
      o.dtype === dtype && o.shape !== null && o.shape.length === shape.length &&
      o.shape.every((d, i) => d === shape[i])
    );
    if (same.length > 0 && this.t.oneIn(2)) return same[this.t.int(same.length)];
    // A shape too large to write out gets a scalar, as in pick(): a pool output of no elements
    // may still have a huge dim (StridedSliceGrad's [0, 173441540]), whose channel vector the
    // harness must not try to allocate.
    const small = shape.every((d) => d >= 0) && sizeOf(shape) <= MAX_ELEMENTS;
    return this.b.input(tensorOf(dtype, small ? shape : [], this.t), this.t);
  }

  private list(): Output[] {
    const n = 1 + this.t.int(3);
    const first = this.first ?? this.pick();
    return [
      first,
      ...Array.from(
        { length: n - 1 },
        () => this.fits() ? this.partner(first.dtype, this.siblingShape()) : this.pick(),
      ),
    ];
  }

  /** For Pack and ConcatV2: the first input's shape, or for concat one axis resized. */
  private siblingShape(): Shape {
    const dims = this.dims();
    if (this.op.name === "ConcatV2" && dims.length > 0 && this.t.oneIn(2)) {
      dims[this.t.int(dims.length)] = 1 + this.t.int(3);
    }
    return dims;
  }

  private dataInput(name: string, type: string, index: number): Output {
    const op = this.op.name, t = this.t;
    const isPrimary = type === this.op.typeAttr && this.first !== undefined &&
      this.op.inputs.findIndex((s) => s.type === type) === index;
    // OneHot's and Fill's values are scalars, drawn below.
    if (isPrimary && op !== "OneHot" && op !== "Fill") return this.first!;
    if (!this.fits()) return this.pick();
    const dtype = type in (this.op.attrs as object) ? this.dtype() : type as DType;
    const dims = this.dims();
    const r = dims.length;
    switch (`${op}.${name}`) {
      case "MatMul.b": {
        const k = this.attrs.transpose_a ? dims[0] : dims[1];
        const n = 1 + t.int(3);
        return this.partner(dtype, this.attrs.transpose_b ? [n, k ?? 1] : [k ?? 1, n]);
      }
      case "BatchMatMulV2.y": {
        const k = (this.attrs.adj_x ? dims[r - 2] : dims[r - 1]) ?? 1;
        const n = 1 + t.int(3);
        const batch = t.oneIn(2) ? dims.slice(0, -2) : [];
        return this.partner(dtype, [...batch, ...(this.attrs.adj_y ? [n, k] : [k, n])]);
      }
      case "Conv2D.filter":
      case "DepthwiseConv2dNative.filter": {
        const c = this.attrs.data_format === "NCHW" ? dims[1] : dims[r - 1];
        return this.partner(dtype, [1 + t.int(3), 1 + t.int(3), c ?? 1, 1 + t.int(3)]);
      }
      case "BiasAdd.bias":
        return this.partner(dtype, [
          (this.attrs.data_format === "NCHW" ? dims[1] : dims[r - 1]) ?? 1,
        ]);
      case "FusedBatchNormV3.scale":
      case "FusedBatchNormV3.offset":
      case "FusedBatchNormV3.mean":
      case "FusedBatchNormV3.variance":
        return this.partner("float32", [
          (this.attrs.data_format === "NCHW" ? dims[1] : dims[r - 1]) ?? 1,
        ]);
      case "SoftmaxCrossEntropyWithLogits.labels":
        return this.partner(dtype, dims);
      case "SelectV2.condition":
        return this.partner("bool", t.oneIn(2) ? dims : dims.slice(t.int(r + 1)));
      case "OneHot.on_value":
      case "OneHot.off_value":
      case "Fill.value":
        return this.b.input(tensorOf(this.dtype(), [], t), t);
    }
    // The other operand of a binary op: the same shape, a suffix of it (broadcast) or a scalar.
    return this.partner(dtype, t.oneIn(3) ? dims.slice(t.int(r + 1)) : dims);
  }

  /** Shape, axis and index arguments: fitting the data input mostly, wild otherwise. */
  private indexInput(name: string, type: string): Output {
    const t = this.t;
    const allowed = (this.op.attrs as Record<string, AttrSpec<AttrValue>>)[type]?.allowed as
      | DType[]
      | undefined;
    const dtype: DType = type === "int32" ? "int32" : t.pick(allowed ?? ["int32"]);
    const fit = this.fits() ? this.fittingIndex(name, dtype) : undefined;
    if (fit) return this.b.input(intTensor(dtype, fit.shape, fit.values), t);
    const scalar = t.oneIn(2);
    const values = Array.from({ length: scalar ? 1 : t.int(5) }, () => t.pick(WILD_INTS));
    return this.b.input(intTensor(dtype, scalar ? [] : [values.length], values), t);
  }

  private fittingIndex(name: string, dtype: DType): { shape: Shape; values: number[] } | undefined {
    const t = this.t, dims = this.dims(), r = dims.length;
    const vec = (values: number[]) => ({ shape: [values.length], values });
    const axis = () => t.range(-Math.max(r, 1), Math.max(r - 1, 0));
    const scalar = (v: number) => ({ shape: [] as Shape, values: [v] });
    switch (`${this.op.name}.${name}`) {
      case "Reshape.shape": {
        const n = sizeOf(dims);
        return t.pick([
          vec([-1]),
          vec([...dims].reverse()),
          vec([n]),
          vec([1, -1]),
          vec([...dims, 1]),
        ]);
      }
      case "ExpandDims.dim":
        return scalar(t.range(-r - 1, r));
      case "Fill.dims":
        return vec(Array.from({ length: t.int(4) }, () => t.int(4)));
      case "Range.start":
      case "Range.limit":
        return scalar(t.range(-3, 6));
      case "Range.delta":
        return scalar(t.pick([1, 2, -1, 3]));
      case "Transpose.perm": {
        const perm = dims.map((_, i) => i);
        for (let i = perm.length - 1; i > 0; i--) {
          const j = t.int(i + 1);
          [perm[i], perm[j]] = [perm[j], perm[i]];
        }
        return vec(perm);
      }
      case "Slice.begin":
        return vec(dims.map((d) => t.int(d + 1)));
      case "Slice.size":
        return vec(dims.map((d) => (t.oneIn(3) ? -1 : t.int(d + 1))));
      case "StridedSlice.begin":
      case "StridedSlice.end":
        return vec(dims.map((d) => t.range(-d - 1, d + 1)));
      case "StridedSlice.strides":
        return vec(dims.map(() => t.pick([1, 1, 2, -1, 3])));
      case "ConcatV2.axis":
      case "ArgMax.dimension":
      case "ArgMin.dimension":
        return scalar(axis());
      case "Pad.paddings":
        return { shape: [r, 2], values: dims.flatMap(() => [t.int(3), t.int(3)]) };
      case "Tile.multiples":
        return vec(dims.map(() => t.int(4)));
      case "GatherV2.indices": {
        const a = typeof this.attrs.batch_dims === "number" ? this.attrs.batch_dims : 0;
        const d = this.dim(a);
        const shape = a > 0
          ? [...dims.slice(0, a), 1 + t.int(2)]
          : Array.from({ length: t.int(3) }, () => 1 + t.int(3));
        return { shape, values: Array.from({ length: sizeOf(shape) }, () => t.range(-1, d)) };
      }
      case "GatherV2.axis":
        return scalar(t.range(0, Math.max(r - 1, 0)));
      case "OneHot.indices": {
        const shape = Array.from({ length: t.int(3) }, () => 1 + t.int(3));
        return { shape, values: Array.from({ length: sizeOf(shape) }, () => t.range(-1, 4)) };
      }
      case "OneHot.depth":
        return scalar(t.int(5));
      case "SparseSoftmaxCrossEntropyWithLogits.labels": {
        const n = dims[0] ?? 1, classes = dims[1] ?? 1;
        return vec(
          Array.from({ length: n }, () => (t.oneIn(8) ? t.pick([-1, classes]) : t.int(classes))),
        );
      }
    }
    if (name === "reduction_indices") {
      return t.oneIn(2) ? scalar(axis()) : vec(Array.from({ length: t.int(r + 1) }, axis));
    }
    void dtype;
    return undefined;
  }
}
