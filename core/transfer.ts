/**
 * Moving a value between devices: the device's own `transferTo` where the pair allows a direct
 * copy (two WASM devices copy memory to memory), else a download then an upload through the host.
 * Never a `peek` view: the destination may keep the tensor it is given (REF does), and a view of
 * device memory changes under it. A host-memory value (a HostBuffer of no device) is
 * uploaded; the caller decides whether it needs a device copy at all.
 */
import { HostBuffer, retain } from "./buffer.ts";
import type { Device, DeviceBuffer } from "./device.ts";
import type { Tensor } from "./tensor.ts";

/** A copy of `b` on `to`, owned by the caller (refs 1). */
export function transfer(b: DeviceBuffer, to: Device): DeviceBuffer | Promise<DeviceBuffer> {
  // A variant (a TensorList) lives in host memory only: no device holds one, so moving it is
  // handing over the host value (a Recv inside a loop whose reader is a control-flow op).
  if (b.dtype === "variant") return toHost(b);
  const from = b.device;
  if (b instanceof HostBuffer) return own(to.upload(b.tensor));
  const direct = from!.transferTo?.(b, to);
  if (direct) return own(direct);
  return from!.download(b).then((t) => own(to.upload(t)));
}

/** The value of `b` in host memory, without a device copy (for host-memory readers). */
export function toHost(b: DeviceBuffer): HostBuffer | Promise<HostBuffer> {
  if (b instanceof HostBuffer && b.device === null) return retain(b);
  const from = b.device!;
  const wrap = (t: Tensor) => retain(new HostBuffer(t));
  if (b instanceof HostBuffer) return wrap(b.tensor);
  return from.download(b).then(wrap);
}

function own(b: DeviceBuffer | Promise<DeviceBuffer>): DeviceBuffer | Promise<DeviceBuffer> {
  return b instanceof Promise ? b.then(retain) : retain(b);
}
