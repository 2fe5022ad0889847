// Edgeflow's public API: re-exports, and the default device plugins installed explicitly.
import { defaultRegistry } from "./core/kernel.ts";
import { refPlugin } from "./devices/ref/plugin.ts";
import { tpuPlugin } from "./devices/tpu/plugin.ts";
import { wasmPlugin } from "./kernels_wasm/plugin.ts";
import { webgpuPlugin } from "./kernels_gpu/plugin.ts";

defaultRegistry.install(refPlugin);
defaultRegistry.install(wasmPlugin);
defaultRegistry.install(tpuPlugin);
defaultRegistry.install(webgpuPlugin);

export * from "./core/dtype.ts";
export * from "./core/shape.ts";
export * from "./core/tensor.ts";
export * from "./core/errors.ts";
export * from "./core/graph.ts";
export * from "./core/op.ts";
export * from "./core/device.ts";
export * from "./core/device_spec.ts";
export * from "./core/kernel.ts";
export * from "./core/session.ts";
export * from "./core/variables.ts";
export { carriesGradient, gradients, type GradientsOptions } from "./core/gradients.ts";
export * from "./core/ops/mod.ts";
export { referenceKernel, refPlugin } from "./devices/ref/plugin.ts";
export { nullPlugin } from "./devices/null/plugin.ts";
export { wasmPlugin } from "./kernels_wasm/plugin.ts";
export { tpuPlugin } from "./devices/tpu/plugin.ts";
export { TpuDevice } from "./devices/tpu/device.ts";
export { TPU_V4, type TpuParams } from "./devices/tpu/params.ts";
export { webgpuPlugin } from "./kernels_gpu/plugin.ts";
export type { StepStats } from "./core/executor.ts";
export type { StepTrace, TransferStats } from "./core/trace/step_recorder.ts";
export {
  type ChromeTrace,
  type ChromeTraceOptions,
  saveChromeTrace,
  toChromeTrace,
} from "./core/trace/chrome_trace.ts";
export type { ReferenceComparison, ReferenceDifference } from "./core/trace/compare_reference.ts";
export { fromGraphDef, type GraphDefJson, toGraphDef } from "./core/formats/graphdef_json.ts";
export { MapHostContext } from "./core/host_context.ts";
export { HostBuffer } from "./core/buffer.ts";
export { ResourceTable } from "./core/resources.ts";
export * as train from "./core/train/mod.ts";
export {
  FIFOQueue,
  PaddingFIFOQueue,
  QueueBase,
  type QueueOptions,
  RandomShuffleQueue,
  type RandomShuffleQueueOptions,
} from "./core/queues/builders.ts";
export { QueueCancelledError, QueueOutOfRangeError } from "./core/queues/queue.ts";
export * from "./core/tensor_list/builders.ts";
export { TensorList } from "./core/tensor_list/list.ts";
export * from "./core/ops/tensor_list.ts";
export * from "./core/ops/tensor_array.ts";
export * as layers from "./core/layers/mod.ts";
export type { ModelSource, ReadLimits } from "./core/formats/model_source.ts";
export {
  type GraphModel,
  type GraphModelOptions,
  loadGraphModel,
  type SignatureTensor,
} from "./core/formats/tfjs/graph_model.ts";
