/**
 * TpuDevice: an emulated TPU. Buffers live in a fixed-capacity HBM; host↔HBM transfers and every
 * kernel advance a simulated clock by the cycles the machine model gives them; kernels compute
 * real values with the hardware's numerics (bfloat16 matrix units, float32 vector units).
 *
 * A kernel states its work with `charge(ctx, work)` while it runs; `run` refuses a kernel that
 * did not, so no kernel runs untimed. Per-kernel figures reach run metadata through
 * `kernelStats`, and `performance` gives the placer's cost model the machine's speeds.
 */
import type { TypedArray } from "../../core/dtype.ts";
import type {
  BufferSpec,
  Device,
  DeviceOptions,
  DevicePerformance,
  MemoryStats,
} from "../../core/device.ts";
import { release, retain } from "../../core/buffer.ts";
import { fullDeviceName } from "../../core/device_spec.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { KernelContext, KernelInstance } from "../../core/kernel.ts";
import type { Shape } from "../../core/shape.ts";
import { Tensor } from "../../core/tensor.ts";
import { SimClock, type Span } from "./clock.ts";
import { Hbm, TpuBuffer } from "./hbm.ts";
import { memoryLimitOf } from "../../core/memory_limit.ts";
import { figuresOf, resolveParams, type TpuFigures, type TpuParams } from "./params.ts";
import { type KernelTiming, kernelTiming, transferCycles, type Work } from "./timing.ts";

/** What the device recorded about one kernel run. */
export type KernelRecord = KernelTiming & Span;

interface Running {
  readonly ctx: KernelContext;
  readonly allocated: TpuBuffer[];
  record?: KernelRecord;
}

export class TpuDevice implements Device<TpuBuffer> {
  readonly type = "TPU" as const;
  readonly name: string;
  readonly params: TpuParams;
  readonly figures: TpuFigures;
  readonly performance: DevicePerformance;
  readonly clock: SimClock = new SimClock();
  private readonly hbm: Hbm;
  private running?: Running;
  private readonly records = new WeakMap<KernelContext, KernelRecord>();

  /** `options`: the device index and any TpuParams to override (params.ts documents them). */
  constructor(options: DeviceOptions = {}) {
    this.name = fullDeviceName("TPU", options.index ?? 0);
    this.params = resolveParams(options);
    this.figures = figuresOf(this.params);
    this.hbm = new Hbm(this.params.hbmBytes, memoryLimitOf(options, "TPU"));
    this.performance = {
      flops: this.figures.peakFlops,
      bandwidth: this.params.hbmBandwidth,
      transfer: this.params.hostBandwidth,
      launch: this.params.kernelOverheadCycles / this.params.clockHz,
    };
  }

  allocate(spec: BufferSpec): TpuBuffer {
    const node = this.running?.ctx.node;
    const buffer = this.hbm.allocate(
      spec.dtype,
      spec.shape,
      this,
      node ? "a buffer the kernel writes" : "a buffer",
      node ? { node: node.name, op: node.op.name } : {},
    );
    this.running?.allocated.push(buffer);
    return buffer;
  }

  free(b: TpuBuffer): void {
    if (b.base) release(b.base);
    else this.hbm.release(b);
  }

  /** The same bytes under another shape (a reshape), sharing `base`'s HBM. */
  view(base: TpuBuffer, shape: Shape): TpuBuffer {
    const owner = retain(base.base ?? base);
    const v = new TpuBuffer(base.dtype, shape, base.data, base.bytes, this, owner);
    v.readyAt = base.readyAt;
    this.running?.allocated.push(v);
    return v;
  }

  /** Views `adopt` handed out, by the HBM buffer behind each (core/device.ts says why). */
  private readonly adopted = new WeakMap<Tensor, TpuBuffer>();

  adopt(t: Tensor): { buffer: TpuBuffer; view: Tensor } {
    const buffer = retain(this.upload(t));
    // HBM is emulated in host arrays: the view is the buffer's own storage.
    const view = this.peek(buffer);
    this.adopted.set(view, buffer);
    return { buffer, view };
  }

  upload(t: Tensor): TpuBuffer {
    // A view from `adopt` whose buffer is still held: its values are already in HBM.
    const own = this.adopted.get(t);
    if (own && own.refs > 0) return own;
    const b = this.hbm.allocate(t.dtype, t.shape, this, "a host→HBM upload of a tensor");
    // Same element type on both sides (typed as Float32Array for the compiler only).
    (b.data as Float32Array).set(t.data as Float32Array);
    b.readyAt = this.clock.upload(b.bytes, transferCycles(this.figures, b.bytes)).end;
    return b;
  }

  download(b: TpuBuffer): Promise<Tensor> {
    this.clock.download(b.readyAt, b.bytes, transferCycles(this.figures, b.bytes));
    return Promise.resolve(new Tensor(b.dtype, b.shape, (b.data as TypedArray).slice()));
  }

  /** The buffer's values: HBM is emulated in host arrays, so this reads them with no transfer. */
  peek(b: TpuBuffer): Tensor {
    return new Tensor(b.dtype, b.shape, b.data);
  }

  run(kernel: KernelInstance, ctx: KernelContext): void {
    const running: Running = { ctx, allocated: [] };
    this.running = running;
    try {
      if (kernel.run(ctx) instanceof Promise) {
        throw new EdgeflowError("TPU kernels run synchronously; this one returned a promise");
      }
    } finally {
      this.running = undefined;
    }
    const record = running.record;
    if (!record) {
      throw new EdgeflowError("the TPU kernel did not report its work to the machine model");
    }
    for (const b of running.allocated) b.readyAt = record.end;
    this.records.set(ctx, record);
  }

  /**
   * Called by a kernel while it runs: times `work` with the machine model and places it on the
   * simulated clock after the kernel's inputs are ready. `written` are buffers the kernel
   * updated in place (a variable), which become ready when it ends, like its outputs.
   */
  charge(ctx: KernelContext, work: Work, written: readonly TpuBuffer[] = []): KernelRecord {
    const running = this.running;
    if (!running || running.ctx !== ctx) {
      throw new EdgeflowError("charge() is for the kernel the TPU is running");
    }
    if (running.record) throw new EdgeflowError("the TPU kernel reported its work twice");
    const timing = kernelTiming(this.params, this.figures, work);
    let ready = 0;
    for (const b of [...ctx.inputs, ...written]) {
      if (b instanceof TpuBuffer) ready = Math.max(ready, b.readyAt);
    }
    const span = this.clock.kernel(ready, timing.cycles);
    for (const b of written) b.readyAt = span.end;
    const c = this.clock.counters;
    c.kernels++;
    c.kernelCycles += timing.cycles;
    c.mxuCycles += timing.mxuCycles;
    c.flops += timing.flops;
    c.hbmBytes += timing.hbmBytes;
    running.record = { ...timing, ...span };
    return running.record;
  }

  /** The simulated figures of a kernel that ran here, for run metadata. */
  kernelStats(ctx: KernelContext): Record<string, number> | undefined {
    const r = this.records.get(ctx);
    if (!r) return undefined;
    return {
      cycles: r.cycles,
      startCycle: r.start,
      endCycle: r.end,
      simulatedSeconds: r.cycles / this.params.clockHz,
      // Traces turn start/end cycles into simulated time with it.
      clockHz: this.params.clockHz,
      mxuCycles: r.mxuCycles,
      vpuCycles: r.vpuCycles,
      hbmCycles: r.hbmCycles,
      hbmBytes: r.hbmBytes,
      flops: r.flops,
    };
  }

  /** Seconds of simulated time for a number of cycles. */
  seconds(cycles: number): number {
    return cycles / this.params.clockHz;
  }

  memory(): MemoryStats {
    return { inUse: this.hbm.inUse, peak: this.hbm.peak, capacity: this.hbm.capacity };
  }

  /** Starts peak tracking afresh. */
  resetPeak(): void {
    this.hbm.peak = this.hbm.inUse;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
