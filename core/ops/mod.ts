// Every op definition and builder function, by family.
export * from "./basic.ts";
export * from "./binary.ts";
export * from "./unary.ts";
export * from "./random.ts";
export * from "./state.ts";
export { ALL_OPS, defaultOpRegistry, getOp, hasOp, OpRegistry } from "./registry.ts";
export { type BuildOptions, type OpOptions, type TensorLike } from "./build.ts";
export * from "./matmul.ts";
export * from "./conv.ts";
export * from "./pool.ts";
export * from "./nn.ts";
export * from "./loss.ts";
export { convGeometry, type WindowGeometry } from "./conv_geometry.ts";
// The Shape op is exported as ShapeOp: `Shape` is the shape type of core/shape.ts.
export {
  ExpandDims,
  expandDims,
  expandDimsShape,
  Reshape,
  reshape,
  resolveReshape,
  Shape as ShapeOp,
  shape,
  SHAPE_OPS,
  Squeeze,
  squeeze,
  squeezeShape,
} from "./shape_ops.ts";
export * from "./fill.ts";
export * from "./cast.ts";
export * from "./transpose.ts";
export * from "./slice.ts";
export * from "./join.ts";
export * from "./pad_tile.ts";
export * from "./gather.ts";
export * from "./select.ts";
export * from "./reduce.ts";
export * from "./grad_math.ts";
export * from "./grad_array.ts";
export * from "./grad_conv.ts";
export * from "./grad_nn.ts";
export * from "./grad_batch_norm.ts";
export * from "./scan.ts";
export * from "./training_ops.ts";
