// ef.layers: small graph-building layers and TensorFlow's initializers.
export {
  type Activation,
  avgPool,
  conv2d,
  type ConvOptions,
  dense,
  depthwiseConv2d,
  dropout,
  flatten,
  maxPool,
  type PoolOptions,
} from "./layers.ts";
export {
  batchNormalization,
  type BatchNormOptions,
  moments,
  UPDATE_OPS,
  updateOps,
} from "./batch_norm.ts";
export {
  computeFans,
  constantInitializer,
  glorotUniform,
  heNormal,
  type Initializer,
  ones,
  zeros,
} from "./initializers.ts";
