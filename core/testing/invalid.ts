/** Helpers for OpDef.invalidArbitrary: valid tensors with one element made invalid. */
import type { DType } from "../dtype.ts";
import { Tensor } from "../tensor.ts";

/** A copy of `t` whose element `flat` (mod its size) is `value`. */
export function withElement<D extends DType>(t: Tensor<D>, flat: number, value: number): Tensor<D> {
  const data = t.data.slice() as Tensor<D>["data"];
  const at = flat % t.size;
  if (data instanceof BigInt64Array) data[at] = BigInt(value);
  else (data as Exclude<typeof data, BigInt64Array | string[]>)[at] = value;
  return new Tensor(t.dtype, t.shape, data);
}
