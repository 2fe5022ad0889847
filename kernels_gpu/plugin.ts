/** The WEBGPU plugin: the device factory and every WebGPU kernel, listed by family. */
import { CONTROL_FLOW_KERNELS } from "../core/control_flow_kernels.ts";
import { GENERIC_BASIC_KERNELS, GENERIC_VIEW_KERNELS } from "../core/basic_kernels.ts";
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
import { FILL_KERNELS } from "./movement/fill.ts";
import { GATHER_KERNELS } from "./movement/gather.ts";
import { JOIN_KERNELS } from "./movement/join.ts";
import { CHANNEL_KERNELS } from "./nn/channel.ts";
import { XENT_KERNELS } from "./nn/cross_entropy.ts";
import { SOFTMAX_KERNELS } from "./nn/softmax.ts";
import { REDUCE_KERNELS } from "./reduce/kernels.ts";
import { VARIABLE_KERNELS } from "./variables.ts";

export const webgpuPlugin: DevicePlugin<WebGpuDevice> = {
  type: "WEBGPU",
  create: (options) => createWebGpuDevice(options as WebGpuOptions | undefined),
  kernels: [
    ...GENERIC_VARIABLE_KERNELS,
    ...VARIABLE_KERNELS,
    ...forDTypes(GENERIC_BASIC_KERNELS, GPU_DTYPES),
    // Control flow forwards any buffer, resource handles and strings included.
    ...CONTROL_FLOW_KERNELS,
    ...UNARY_KERNELS,
    ...BINARY_KERNELS,
    ...MATMUL_KERNELS,
    conv2dKernel,
    ...WINDOW_KERNELS,
    ...CHANNEL_KERNELS,
    ...SOFTMAX_KERNELS,
    ...XENT_KERNELS,
    castKernel,
    ...forDTypes(GENERIC_VIEW_KERNELS, GPU_DTYPES),
    ...COPY_KERNELS,
    ...JOIN_KERNELS,
    ...GATHER_KERNELS,
    ...FILL_KERNELS,
    ...REDUCE_KERNELS,
  ],
};
