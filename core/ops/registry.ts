/**
 * The list of every op Edgeflow defines (explicit: an op exists when it is named here), and the
 * op registry lookups by TensorFlow name go through.
 */
import { EdgeflowError } from "../errors.ts";
import type { OpDef } from "../op.ts";
import { Identity, NoOp, Placeholder, PlaceholderWithDefault } from "./basic.ts";
import { Const } from "./const.ts";
import { BINARY_OPS } from "./binary.ts";
import { LeakyRelu, UNARY_OPS } from "./unary.ts";
import { RandomStandardNormal, RandomUniform, TruncatedNormal } from "./random.ts";
import { STATE_OPS } from "./state.ts";
import { MATMUL_OPS } from "./matmul.ts";
import { CONV_OPS } from "./conv.ts";
import { POOL_OPS } from "./pool.ts";
import { NN_OPS } from "./nn.ts";
import { LOSS_OPS } from "./loss.ts";
import { SHAPE_OPS } from "./shape_ops.ts";
import { FILL_OPS } from "./fill.ts";
import { Cast } from "./cast.ts";
import { TRANSPOSE_OPS } from "./transpose.ts";
import { SLICE_OPS } from "./slice.ts";
import { JOIN_OPS } from "./join.ts";
import { PAD_TILE_OPS } from "./pad_tile.ts";
import { GATHER_OPS } from "./gather.ts";
import { SELECT_OPS } from "./select.ts";
import { REDUCE_OPS } from "./reduce.ts";
import { GRAD_MATH_OPS } from "./grad_math.ts";
import { GRAD_ARRAY_OPS } from "./grad_array.ts";
import { GRAD_CONV_OPS } from "./grad_conv.ts";
import { GRAD_NN_OPS } from "./grad_nn.ts";
import { CONTROL_FLOW_OPS } from "./control_flow.ts";
import { GRAD_BATCH_NORM_OPS } from "./grad_batch_norm.ts";
import { SCAN_OPS } from "./scan.ts";
import { FUSED_OPS } from "./fused.ts";
import { RESIZE_OPS } from "./resize.ts";
import { GRAD_RESIZE_OPS } from "./grad_resize.ts";
import { GATHER_ND_OPS } from "./gather_nd.ts";
import { TRAINING_OPS } from "./training_ops.ts";
import { QUEUE_OPS } from "./queue.ts";
import { STACK_OPS } from "./stack.ts";
import { TopKV2 } from "./topk.ts";
import { Where } from "./where.ts";
import { Unique } from "./unique.ts";
import { NMS_OPS } from "./nms.ts";
import { TENSOR_LIST_OPS } from "./tensor_list.ts";
import { TENSOR_ARRAY_OPS } from "./tensor_array.ts";

export const ALL_OPS: readonly OpDef[] = [
  Const,
  Placeholder,
  PlaceholderWithDefault,
  Identity,
  NoOp,
  ...BINARY_OPS,
  ...UNARY_OPS,
  LeakyRelu,
  RandomUniform,
  RandomStandardNormal,
  TruncatedNormal,
  ...STATE_OPS,
  ...MATMUL_OPS,
  ...CONV_OPS,
  ...POOL_OPS,
  ...NN_OPS,
  ...LOSS_OPS,
  ...SHAPE_OPS,
  ...FILL_OPS,
  Cast,
  ...TRANSPOSE_OPS,
  ...SLICE_OPS,
  ...JOIN_OPS,
  ...PAD_TILE_OPS,
  ...GATHER_OPS,
  ...SELECT_OPS,
  ...REDUCE_OPS,
  ...GRAD_MATH_OPS,
  ...GRAD_ARRAY_OPS,
  ...GRAD_CONV_OPS,
  ...GRAD_NN_OPS,
  ...CONTROL_FLOW_OPS,
  ...GRAD_BATCH_NORM_OPS,
  ...SCAN_OPS,
  ...FUSED_OPS,
  ...RESIZE_OPS,
  ...GRAD_RESIZE_OPS,
  ...GATHER_ND_OPS,
  ...TRAINING_OPS,
  ...QUEUE_OPS,
  ...STACK_OPS,
  TopKV2,
  Where,
  Unique,
  ...NMS_OPS,
  ...TENSOR_LIST_OPS,
  ...TENSOR_ARRAY_OPS,
] as unknown as OpDef[];

/**
 * A set of ops by TensorFlow name, like KernelRegistry for kernels: GraphDef import and tools
 * look ops up here. `defaultOpRegistry` holds Edgeflow's ops; a user registers their own
 * `defineOp` there (or in a registry of their own) and gives it kernels in a KernelRegistry.
 */
export class OpRegistry {
  private readonly byName = new Map<string, OpDef>();

  constructor(ops: Iterable<OpDef> = []) {
    for (const op of ops) this.register(op);
  }

  /** Adds an op; an Error when another op already has its name. */
  register(op: OpDef): this {
    const other = this.byName.get(op.name);
    if (other && other !== op) throw new Error(`an op named ${op.name} is registered already`);
    this.byName.set(op.name, op);
    return this;
  }

  /** The op with TensorFlow name `name`; an EdgeflowError names the node when given. */
  get(name: string, node?: string): OpDef {
    const op = this.byName.get(name);
    if (!op) throw new EdgeflowError(`unknown op '${name}'`, { node, op: name });
    return op;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Every registered op, in registration order. */
  list(): OpDef[] {
    return [...this.byName.values()];
  }
}

/** Edgeflow's ops; GraphDef import uses it unless given another registry. */
export const defaultOpRegistry: OpRegistry = new OpRegistry(ALL_OPS);

/** The op with TensorFlow name `name` in the default registry. */
export function getOp(name: string, node?: string): OpDef {
  return defaultOpRegistry.get(name, node);
}
export function hasOp(name: string): boolean {
  return defaultOpRegistry.has(name);
}
