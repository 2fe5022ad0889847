/**
 * The TPU plugin: the emulated device and its kernels, which are programs for the emulated
 * machine (matrix units, vector unit, DMA). Random ops have no kernel here: they run on the
 * host (REF), and the executor moves their results into HBM.
 */
import type { DevicePlugin } from "../../core/kernel.ts";
import { TpuDevice } from "./device.ts";
import { BASIC_KERNELS } from "./kernels/basic.ts";
import { BINARY_KERNELS } from "./kernels/binary.ts";
import { MATMUL_KERNELS } from "./kernels/matmul.ts";
import { UNARY_KERNELS } from "./kernels/unary.ts";

export const tpuPlugin: DevicePlugin<TpuDevice> = {
  type: "TPU",
  create: (options) => Promise.resolve(new TpuDevice(options)),
  kernels: [
    ...BASIC_KERNELS,
    ...UNARY_KERNELS,
    ...BINARY_KERNELS,
    ...MATMUL_KERNELS,
  ],
};
