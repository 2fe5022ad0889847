/**
 * Every ONNX op (default domain) Edgeflow maps, by op_type; the mappers live by family.
 */
import type { OnnxMapper } from "./onnx_context.ts";
import { MATH_MAPPERS } from "./onnx_ops_math.ts";
import { GATHER_MAPPERS } from "./onnx_ops_gather.ts";
import { LOSS_MAPPERS } from "./onnx_ops_loss.ts";
import { MATRIX_MAPPERS } from "./onnx_ops_matrix.ts";
import { NN_MAPPERS } from "./onnx_ops_nn.ts";
import { QUANT_MAPPERS } from "./onnx_ops_quant.ts";
import { SCATTER_MAPPERS } from "./onnx_ops_scatter.ts";
import { SELECT_MAPPERS } from "./onnx_ops_select.ts";
import { WINDOW_MAPPERS } from "./onnx_ops_window.ts";
import { UNIQUE_MAPPERS } from "./onnx_ops_unique.ts";
import { EINSUM_MAPPERS } from "./onnx_ops_einsum.ts";
import { TRAINING_DOMAIN, TRAINING_MAPPERS } from "./onnx_ops_training.ts";
import { TOPK_MAPPERS } from "./onnx_ops_topk.ts";
import { RNN_MAPPERS } from "./onnx_ops_rnn.ts";
import { REDUCE_MAPPERS } from "./onnx_ops_reduce.ts";
import { RESIZE_MAPPERS } from "./onnx_ops_resize.ts";
import { SHAPE_MAPPERS } from "./onnx_ops_shape.ts";
import { CONTROL_MAPPERS } from "./onnx_ops_control.ts";

export const ONNX_MAPPERS: ReadonlyMap<string, OnnxMapper> = new Map(
  Object.entries({
    ...MATH_MAPPERS,
    ...REDUCE_MAPPERS,
    ...SHAPE_MAPPERS,
    ...NN_MAPPERS,
    ...LOSS_MAPPERS,
    ...MATRIX_MAPPERS,
    ...RESIZE_MAPPERS,
    ...GATHER_MAPPERS,
    ...QUANT_MAPPERS,
    ...RNN_MAPPERS,
    ...SCATTER_MAPPERS,
    ...TOPK_MAPPERS,
    ...SELECT_MAPPERS,
    ...WINDOW_MAPPERS,
    ...UNIQUE_MAPPERS,
    ...EINSUM_MAPPERS,
  }),
);

/** The mapper of a node's (domain, op_type), If, Loop and Scan aside. */
export function onnxMapper(domain: string, opType: string): OnnxMapper | undefined {
  if (domain === TRAINING_DOMAIN) return TRAINING_MAPPERS[opType];
  return domain === "" || domain === "ai.onnx" ? ONNX_MAPPERS.get(opType) : undefined;
}

/** Whether a node's (domain, op_type) is one Edgeflow maps (If, Loop and Scan included). */
export function isMappedOnnxOp(domain: string, opType: string): boolean {
  return onnxMapper(domain, opType) !== undefined ||
    ((domain === "" || domain === "ai.onnx") && CONTROL_MAPPERS.has(opType));
}
