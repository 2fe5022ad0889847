/** Const: a value held in the graph as an attribute. Apart from basic.ts so literal conversion can use it. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { defineOp } from "../op.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import type { Tensor } from "../tensor.ts";

export const Const = defineOp<{ value: Tensor; dtype: DType }>({
  name: "Const",
  inputs: [],
  outputs: [{ name: "output", type: "dtype" }],
  attrs: { value: { kind: "tensor" }, dtype: { kind: "type", allowed: ALL_DTYPES } },
  infer: (_, { value }) => [{ dtype: value.dtype, shape: value.shape }],
  reference: (_, { value }) => [value],
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).map((value) => ({ inputs: [], attrs: { value, dtype } })),
  testDTypes: ALL_DTYPES.filter((d) => d !== "resource"),
});
