// Every op definition and builder function, by family.
export * from "./basic.ts";
export * from "./binary.ts";
export * from "./unary.ts";
export * from "./random.ts";
export * from "./state.ts";
export { ALL_OPS, getOp, hasOp } from "./registry.ts";
export { type BuildOptions, type OpOptions, type TensorLike } from "./build.ts";
export * from "./matmul.ts";
export * from "./conv.ts";
export * from "./pool.ts";
export * from "./nn.ts";
export * from "./loss.ts";
export { convGeometry, type WindowGeometry } from "./conv_geometry.ts";
