/**
 * The task functions kernels.wasm exports, by name. A job names its task by index into this list,
 * which the main thread and every worker resolve to the same exports; the build checks that each
 * name is exported.
 */
export const TASK_NAMES = [
  "task_fill",
  "task_sgemm_pack",
  "task_sgemm",
  "task_imatmul_i32",
  "task_imatmul_i64",
  "task_binary",
  "task_unary",
  "task_strided_copy",
  "task_gather",
  "task_select",
  "task_one_hot",
  "task_cast",
  "task_reduce",
  "task_reduce_finish",
  "task_arg_reduce",
  "task_softmax",
  "task_batch_norm",
  "task_xent",
  "task_depthwise",
  "task_pool",
  "task_col2im",
  "task_depthwise_grad_input",
  "task_depthwise_grad_filter",
  "task_max_pool_grad",
  "task_avg_pool_grad",
  "task_grad_binary",
  "task_segment_sum",
  "task_conv_grad_filter_direct",
  "task_scan",
  "task_batch_norm_grad",
  "task_batch_norm_stats",
  "task_resize_bilinear",
  "task_epilogue",
  "task_resize_nearest",
  "task_apply",
  "task_scatter_add",
] as const;

export type TaskName = (typeof TASK_NAMES)[number];

/** Task index by name: `Task.task_sgemm`. */
export const Task: Readonly<Record<TaskName, number>> = Object.fromEntries(
  TASK_NAMES.map((name, i) => [name, i]),
) as Record<TaskName, number>;
