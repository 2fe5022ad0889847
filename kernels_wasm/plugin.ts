/**
 * The WASM plugin: the CPU device with its kernels. mod.ts installs it; sessions then default to
 * WASM and fall back to REF for the ops it has no kernel for (the random ops).
 */
import { CONTROL_FLOW_KERNELS } from "../core/control_flow_kernels.ts";
import {
  GENERIC_BASIC_KERNELS,
  GENERIC_HOST_ARITHMETIC_KERNELS,
  GENERIC_VIEW_KERNELS,
} from "../core/basic_kernels.ts";
import { type DevicePlugin, forDTypes, type Kernel } from "../core/kernel.ts";
import type { NamedModule } from "../devices/wasm/instance.ts";
import { WasmDevice, type WasmDeviceOptions } from "../devices/wasm/device.ts";
import { CONV_WASM_BASE64, GEMM_WASM_BASE64, KERNELS_WASM_BASE64 } from "./gen/modules.ts";
import { CONV_KERNELS } from "./kernels/conv.ts";
import { CREATE_KERNELS } from "./kernels/create.ts";
import { ELEMENTWISE_KERNELS } from "./kernels/elementwise.ts";
import { FUSED_KERNELS } from "./kernels/fused.ts";
import { GATHER_KERNELS } from "./kernels/gather.ts";
import { GATHER_ND_KERNELS } from "./kernels/gather_nd.ts";
import { TOPK_KERNELS } from "./kernels/topk.ts";
import { LOSS_KERNELS } from "./kernels/loss.ts";
import { MATMUL_KERNELS } from "./kernels/matmul.ts";
import { MOVEMENT_KERNELS } from "./kernels/movement.ts";
import { NN_KERNELS } from "./kernels/nn.ts";
import { REDUCE_KERNELS } from "./kernels/reduce.ts";
import { VARIABLE_KERNELS } from "./kernels/variables.ts";
import { CONV_GRAD_KERNELS } from "./kernels/conv_grad.ts";
import { GRAD_KERNELS } from "./kernels/grad.ts";
import { GRAD_ARRAY_KERNELS } from "./kernels/grad_array.ts";
import { SCAN_KERNELS } from "./kernels/scan.ts";
import { BATCH_NORM_GRAD_KERNELS } from "./kernels/batch_norm_grad.ts";
import { OPTIM_KERNELS } from "./kernels/optim.ts";
import { TASK_NAMES } from "./tasks.ts";
import { BYTE_DTYPES } from "./kernels/util.ts";
import { TENSOR_LIST_KERNELS } from "../core/tensor_list/kernels.ts";

let compiled: Promise<NamedModule[]> | undefined;

/**
 * The kernel modules, decoded and compiled once per process: the WAT micro-kernels first, as
 * kernels imports them (kernels_wasm/build.ts, WAT_MODULES).
 */
export function kernelModules(): Promise<NamedModule[]> {
  const named = [
    { name: "gemm", base64: GEMM_WASM_BASE64 },
    { name: "conv", base64: CONV_WASM_BASE64 },
    { name: "kernels", base64: KERNELS_WASM_BASE64 },
  ];
  compiled ??= Promise.all(
    named.map(async ({ name, base64 }) => ({
      name,
      module: await WebAssembly.compile(Uint8Array.fromBase64(base64)),
    })),
  );
  return compiled;
}

export const WASM_KERNELS: readonly Kernel[] = [
  ...forDTypes(GENERIC_BASIC_KERNELS, BYTE_DTYPES),
  // Control flow forwards any buffer, resource handles and strings included.
  ...CONTROL_FLOW_KERNELS,
  ...forDTypes(GENERIC_VIEW_KERNELS, BYTE_DTYPES),
  ...GENERIC_HOST_ARITHMETIC_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ...MATMUL_KERNELS,
  ...VARIABLE_KERNELS,
  ...MOVEMENT_KERNELS,
  ...GATHER_KERNELS,
  ...CREATE_KERNELS,
  ...REDUCE_KERNELS,
  ...NN_KERNELS,
  ...LOSS_KERNELS,
  ...CONV_KERNELS,
  ...CONV_GRAD_KERNELS,
  ...GRAD_KERNELS,
  ...GRAD_ARRAY_KERNELS,
  ...SCAN_KERNELS,
  ...BATCH_NORM_GRAD_KERNELS,
  ...FUSED_KERNELS,
  ...GATHER_ND_KERNELS,
  ...TOPK_KERNELS,
  ...OPTIM_KERNELS,
  // TensorList and TensorArray ops: host-memory bookkeeping, so loops using them stay on WASM.
  ...TENSOR_LIST_KERNELS,
];

export const wasmPlugin: DevicePlugin<WasmDevice> = {
  type: "WASM",
  create: async (options?: WasmDeviceOptions) =>
    WasmDevice.create({ ...options, modules: await kernelModules(), taskNames: TASK_NAMES }),
  kernels: WASM_KERNELS,
};
