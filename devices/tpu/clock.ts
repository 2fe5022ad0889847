/**
 * The TPU's simulated clock: three timelines in core cycles, one for the TensorCores (kernels
 * run one after another) and one per direction of the host link (transfers queue on it), so
 * uploads and downloads overlap kernels as DMA does on the hardware. A kernel starts when the
 * cores are free and its inputs are in HBM; an upload starts when the link is free and the host
 * has the data, which for data the host computed from a download is after that download.
 */
export interface TransferCounters {
  count: number;
  bytes: number;
  /** Link-busy cycles. */
  cycles: number;
}

export interface TpuCounters {
  kernels: number;
  /** Cycles the cores spent in kernels. */
  kernelCycles: number;
  mxuCycles: number;
  flops: number;
  hbmBytes: number;
  uploads: TransferCounters;
  downloads: TransferCounters;
}

/** A span of the simulated timeline, in cycles. */
export interface Span {
  start: number;
  end: number;
}

export class SimClock {
  private coresFree = 0;
  private toDeviceFree = 0;
  private toHostFree = 0;
  /** When the host last received data: the earliest it can send anything computed from it. */
  private hostHas = 0;
  readonly counters: TpuCounters = {
    kernels: 0,
    kernelCycles: 0,
    mxuCycles: 0,
    flops: 0,
    hbmBytes: 0,
    uploads: { count: 0, bytes: 0, cycles: 0 },
    downloads: { count: 0, bytes: 0, cycles: 0 },
  };

  /** The latest cycle any timeline has reached. */
  get now(): number {
    return Math.max(this.coresFree, this.toDeviceFree, this.toHostFree);
  }

  /** Places a kernel of `cycles` whose inputs are complete at `inputsReady`. */
  kernel(inputsReady: number, cycles: number): Span {
    const start = Math.max(this.coresFree, inputsReady);
    const end = start + cycles;
    if (cycles > 0) this.coresFree = end;
    return { start, end };
  }

  upload(bytes: number, cycles: number): Span {
    const start = Math.max(this.toDeviceFree, this.hostHas);
    this.toDeviceFree = start + cycles;
    count(this.counters.uploads, bytes, cycles);
    return { start, end: this.toDeviceFree };
  }

  download(ready: number, bytes: number, cycles: number): Span {
    const start = Math.max(this.toHostFree, ready);
    this.toHostFree = start + cycles;
    this.hostHas = Math.max(this.hostHas, this.toHostFree);
    count(this.counters.downloads, bytes, cycles);
    return { start, end: this.toHostFree };
  }
}

function count(c: TransferCounters, bytes: number, cycles: number): void {
  c.count++;
  c.bytes += bytes;
  c.cycles += cycles;
}
