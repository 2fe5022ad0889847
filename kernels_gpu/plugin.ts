/** The WEBGPU plugin: the device factory and every WebGPU kernel, listed by family. */
import { CONTROL_FLOW_KERNELS } from "../core/control_flow_kernels.ts";
import { TENSOR_LIST_KERNELS } from "../core/tensor_list/kernels.ts";
import {
  GENERIC_BASIC_KERNELS,
  GENERIC_HOST_ARITHMETIC_KERNELS,
  GENERIC_VIEW_KERNELS,
} from "../core/basic_kernels.ts";
import { type DevicePlugin, forDTypes } from "../core/kernel.ts";
import { GENERIC_VARIABLE_KERNELS } from "../core/variable_kernels.ts";
import { GPU_DTYPES } from "../devices/webgpu/storage.ts";
import { createWebGpuDevice } from "../devices/webgpu/create.ts";
import type { WebGpuDevice, WebGpuOptions } from "../devices/webgpu/device.ts";
import { conv2dKernel } from "./conv/conv2d.ts";
import { WINDOW_KERNELS } from "./conv/window_kernels.ts";
import { BINARY_KERNELS } from "./elementwise/binary.ts";
import { castKernel } from "./elementwise/cast.ts";
import { UNARY_KERNELS } from "./elementwise/unary.ts";
import { MATMUL_KERNELS } from "./matmul/matmul.ts";
import { COPY_KERNELS } from "./movement/copy_kernels.ts";
import { addNKernel } from "./grad/add_n.ts";
import { biasAddGradKernel } from "./grad/bias_add_grad.ts";
import { GRAD_ELEMENTWISE_KERNELS, STOP_GRADIENT_KERNELS } from "./grad/elementwise.ts";
import { unsortedSegmentSumKernel } from "./grad/segment_sum.ts";
import { stridedSliceGradKernel } from "./grad/strided_slice_grad.ts";
import { WINDOW_GRAD_KERNELS } from "./grad/window_kernels.ts";
import { FILL_KERNELS } from "./movement/fill.ts";
import { GATHER_KERNELS } from "./movement/gather.ts";
import { IMAGE_KERNELS } from "./movement/image.ts";
import { JOIN_KERNELS } from "./movement/join.ts";
import { CHANNEL_KERNELS } from "./nn/channel.ts";
import { FUSED_KERNELS } from "./nn/fused.ts";
import { XENT_KERNELS } from "./nn/cross_entropy.ts";
import { SOFTMAX_KERNELS } from "./nn/softmax.ts";
import { REDUCE_KERNELS } from "./reduce/kernels.ts";
import { SCAN_KERNELS } from "./reduce/scan.ts";
import { VARIABLE_KERNELS } from "./variables.ts";
import { OPTIM_KERNELS } from "./optim.ts";

export const webgpuPlugin: DevicePlugin<WebGpuDevice> = {
  type: "WEBGPU",
  create: (options) => createWebGpuDevice(options as WebGpuOptions | undefined),
  kernels: [
    ...GENERIC_VARIABLE_KERNELS,
    ...VARIABLE_KERNELS,
    ...forDTypes(GENERIC_BASIC_KERNELS, GPU_DTYPES),
    // Control flow forwards any buffer, resource handles and strings included.
    ...CONTROL_FLOW_KERNELS,
    // TensorList and TensorArray bookkeeping on host memory: loops using them stay on the GPU.
    ...TENSOR_LIST_KERNELS,
    ...UNARY_KERNELS,
    ...BINARY_KERNELS,
    ...MATMUL_KERNELS,
    conv2dKernel,
    ...WINDOW_KERNELS,
    ...CHANNEL_KERNELS,
    ...FUSED_KERNELS,
    ...SOFTMAX_KERNELS,
    ...XENT_KERNELS,
    castKernel,
    ...forDTypes(GENERIC_VIEW_KERNELS, GPU_DTYPES),
    ...COPY_KERNELS,
    ...JOIN_KERNELS,
    ...GATHER_KERNELS,
    ...IMAGE_KERNELS,
    ...FILL_KERNELS,
    ...REDUCE_KERNELS,
    ...SCAN_KERNELS,
    ...GRAD_ELEMENTWISE_KERNELS,
    ...STOP_GRADIENT_KERNELS,
    ...GENERIC_HOST_ARITHMETIC_KERNELS,
    addNKernel,
    biasAddGradKernel,
    ...WINDOW_GRAD_KERNELS,
    unsortedSegmentSumKernel,
    stridedSliceGradKernel,
    ...OPTIM_KERNELS,
  ],
};
