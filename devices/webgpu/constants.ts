/**
 * Const values on the device. A Const kernel runs on every run of a plan, but its value never
 * changes: the cache uploads it once per Tensor and hands out the same buffer (weights of an
 * imported model stay in GPU memory). An entry lives as long as its Tensor (the graph's attr):
 * when the Tensor is collected, a FinalizationRegistry gives the buffer back.
 */
import { release, retain } from "../../core/buffer.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { GpuBuffer } from "./buffer.ts";
import type { WebGpuDevice } from "./device.ts";

export class ConstantCache {
  private readonly byTensor = new WeakMap<Tensor, GpuBuffer>();
  private readonly live = new Set<GpuBuffer>();
  private readonly registry = new FinalizationRegistry<GpuBuffer>((b) => this.drop(b));

  constructor(private readonly device: WebGpuDevice) {}

  get(t: Tensor): GpuBuffer {
    let b = this.byTensor.get(t);
    if (!b) {
      // The cache's own reference keeps the buffer alive between runs.
      b = retain(this.device.upload(t));
      this.byTensor.set(t, b);
      this.live.add(b);
      this.registry.register(t, b, b);
    }
    return b;
  }

  /** Releases every cached buffer (device disposal). */
  clear(): void {
    for (const b of this.live) {
      this.registry.unregister(b);
      release(b);
    }
    this.live.clear();
  }

  private drop(b: GpuBuffer): void {
    if (!this.live.delete(b) || this.device.isLost) return;
    release(b);
  }
}
