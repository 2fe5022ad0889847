/** Reading a buffer's values on the host for the debugging observers, and describing them. */
import { HostBuffer } from "../buffer.ts";
import type { DeviceBuffer } from "../device.ts";
import { isNumeric } from "../dtype.ts";
import { formatShape } from "../shape.ts";
import { numbers, type Tensor } from "../tensor.ts";

/**
 * The values of `b`: the host tensor itself, a view where the device's memory is host-addressable
 * (valid until the device allocates again: read it at once), or a readback (a GPU).
 */
export function hostValues(b: DeviceBuffer): Tensor | Promise<Tensor> {
  if (b instanceof HostBuffer) return b.tensor;
  const device = b.device!;
  return device.peek ? device.peek(b) : device.download(b);
}

/** All of `list` read on the host: an array when no read waits, else a promise of one. */
export function hostValuesAll(list: readonly DeviceBuffer[]): Tensor[] | Promise<Tensor[]> {
  const values = list.map(hostValues);
  return values.some((v) => v instanceof Promise) ? Promise.all(values) : values as Tensor[];
}

/** "float32 [2,3] min -1 max 4" (with NaN and ±Inf counts where there are any). */
export function describeRange(t: Tensor): string {
  const head = `${t.dtype} ${formatShape(t.shape)}`;
  if (!isNumeric(t.dtype) || t.dtype === "bool") return head;
  const v = numbers(t);
  let min = Infinity, max = -Infinity, nan = 0, posInf = 0, negInf = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (Number.isNaN(x)) nan++;
    else if (x === Infinity) posInf++;
    else if (x === -Infinity) negInf++;
    else {
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  const parts = [head];
  if (v.length === 0) parts.push("empty");
  else if (min <= max) parts.push(`min ${min} max ${max}`);
  if (nan) parts.push(`${nan} NaN`);
  if (posInf) parts.push(`${posInf} +Inf`);
  if (negInf) parts.push(`${negInf} -Inf`);
  return parts.join(" ");
}
