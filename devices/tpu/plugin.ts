/**
 * The TPU plugin: the emulated device and its kernels, which are programs for the emulated
 * machine (matrix units, vector unit, DMA). Random ops have no kernel here: they run on the
 * host (REF), and the executor moves their results into HBM.
 */
import type { DevicePlugin } from "../../core/kernel.ts";
import { TpuDevice } from "./device.ts";
import { BASIC_KERNELS } from "./kernels/basic.ts";
import { BINARY_KERNELS } from "./kernels/binary.ts";
import { CONV_KERNELS } from "./kernels/conv.ts";
import { FILL_KERNELS } from "./kernels/fill.ts";
import { GRAD_BATCH_NORM_KERNELS } from "./kernels/grad_batch_norm.ts";
import { GRAD_CONV_KERNELS } from "./kernels/grad_conv.ts";
import { GRAD_MATH_KERNELS } from "./kernels/grad_math.ts";
import { GRAD_NN_KERNELS } from "./kernels/grad_nn.ts";
import { GRAD_SLICE_KERNELS } from "./kernels/grad_slice.ts";
import { FUSED_KERNELS } from "./kernels/fused.ts";
import { IMAGE_KERNELS } from "./kernels/image.ts";
import { JOIN_KERNELS } from "./kernels/join.ts";
import { LOSS_KERNELS } from "./kernels/loss.ts";
import { MATMUL_KERNELS } from "./kernels/matmul.ts";
import { MOVEMENT_KERNELS } from "./kernels/movement.ts";
import { NN_KERNELS } from "./kernels/nn.ts";
import { POOL_KERNELS } from "./kernels/pool.ts";
import { REDUCE_KERNELS } from "./kernels/reduce.ts";
import { RESHAPE_KERNELS } from "./kernels/reshape.ts";
import { SCAN_KERNELS } from "./kernels/scan.ts";
import { SELECT_KERNELS } from "./kernels/select.ts";
import { UNARY_KERNELS } from "./kernels/unary.ts";
import { OPTIM_KERNELS } from "./kernels/optim.ts";
import { TENSOR_LIST_KERNELS } from "../../core/tensor_list/kernels.ts";
import { metadataOnly } from "./kernels/util.ts";

export const tpuPlugin: DevicePlugin<TpuDevice> = {
  type: "TPU",
  create: (options) => Promise.resolve(new TpuDevice(options)),
  kernels: [
    ...BASIC_KERNELS,
    ...UNARY_KERNELS,
    ...BINARY_KERNELS,
    ...MATMUL_KERNELS,
    ...CONV_KERNELS,
    ...FUSED_KERNELS,
    ...IMAGE_KERNELS,
    ...POOL_KERNELS,
    ...NN_KERNELS,
    ...LOSS_KERNELS,
    ...REDUCE_KERNELS,
    ...SCAN_KERNELS,
    ...RESHAPE_KERNELS,
    ...MOVEMENT_KERNELS,
    ...JOIN_KERNELS,
    ...SELECT_KERNELS,
    ...FILL_KERNELS,
    ...GRAD_MATH_KERNELS,
    ...GRAD_CONV_KERNELS,
    ...GRAD_NN_KERNELS,
    ...GRAD_SLICE_KERNELS,
    ...GRAD_BATCH_NORM_KERNELS,
    ...OPTIM_KERNELS,
    // TensorList and TensorArray bookkeeping on host memory (no machine work; the executor's
    // downloads and uploads of elements are the transfers): loops using them stay on the TPU.
    ...TENSOR_LIST_KERNELS.map(metadataOnly),
  ],
};
