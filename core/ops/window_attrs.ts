/**
 * The attr specs of the window ops (convolutions, pools) and their gradient ops, in a module that
 * imports no op: the gradient ops are defined from them at load time, and conv.ts / pool.ts
 * import their gradient functions, so keeping these in conv.ts or pool.ts made a cycle that
 * left them uninitialised for whichever module loaded first.
 */
import { FLOAT_DTYPES, REAL_DTYPES } from "../dtype.ts";

/**
 * Attr specs common to convolutions and their backprops; the NHWC-only data_format makes NCHW a
 * clear attr error.
 */
export const CONV_ATTRS = {
  T: { kind: "type", allowed: FLOAT_DTYPES },
  strides: { kind: "list(int)" },
  padding: { kind: "string", allowed: ["SAME", "VALID", "EXPLICIT"] },
  explicit_paddings: { kind: "list(int)", default: [] },
  data_format: { kind: "string", default: "NHWC", allowed: ["NHWC"] },
  dilations: { kind: "list(int)", default: [1, 1, 1, 1] },
} as const;
/** Conv2D's attr specs: the common ones plus use_cudnn_on_gpu, which changes nothing here. */
export const CONV2D_ATTRS = {
  ...CONV_ATTRS,
  use_cudnn_on_gpu: { kind: "bool", default: true },
} as const;

const poolAttrs = {
  ksize: { kind: "list(int)" },
  strides: { kind: "list(int)" },
  data_format: { kind: "string", default: "NHWC", allowed: ["NHWC"] },
} as const;
/** MaxPool's attr specs, which MaxPoolGrad shares. */
export const MAX_POOL_ATTRS = {
  T: { kind: "type", default: "float32", allowed: REAL_DTYPES },
  ...poolAttrs,
  padding: { kind: "string", allowed: ["SAME", "VALID", "EXPLICIT"] },
  explicit_paddings: { kind: "list(int)", default: [] },
} as const;
/** AvgPool's attr specs, which AvgPoolGrad shares. */
export const AVG_POOL_ATTRS = {
  T: { kind: "type", allowed: FLOAT_DTYPES },
  ...poolAttrs,
  padding: { kind: "string", allowed: ["SAME", "VALID"] },
} as const;
