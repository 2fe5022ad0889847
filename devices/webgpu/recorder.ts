/**
 * Command batching: every dispatch and copy of a run goes into one open command encoder, inside
 * one compute pass where possible (WebGPU orders the dispatches of a pass and makes each one's
 * writes visible to the next), and is submitted once, when a value must leave the device or the
 * session flushes. Uniform values of all dispatches go into one arena: written on the host while
 * recording and uploaded with a single writeBuffer just before the submit, which the queue orders
 * before the batch's commands.
 *
 * GPU validation errors: WebGPU checks a compute pass when it ends, so an error names no dispatch.
 * Each submit runs in an error scope; when the GPU refuses a batch, `diagnose` replays growing
 * prefixes of its dispatches (encoded, never submitted) to find the first one refused and names
 * its node and op. Only a failing batch pays for this.
 */
import { EdgeflowError, type ErrorContext } from "../../core/errors.ts";
import type { GpuBuffer } from "./buffer.ts";
import type { BufferPool } from "./pool.ts";
import { type Dispatch, packUniforms, UNIFORM_SLOT } from "./program.ts";

/** Dispatches per batch before an early submit (the uniform arena's size). */
const ARENA_SLOTS = 1024;

export interface RecorderStats {
  /** Command buffers submitted. */
  submits: number;
  /** Dispatches recorded. */
  dispatches: number;
}

/** A recorded dispatch, kept until its batch is known to be valid. */
interface Recorded {
  readonly context: ErrorContext;
  readonly program: string;
  readonly pipeline: GPUComputePipeline;
  readonly group: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

export class Recorder {
  /** The id of the open batch; buffers used in it carry this id (see pool.ts). */
  batch = 1;
  readonly stats: RecorderStats = { submits: 0, dispatches: 0 };
  private encoder?: GPUCommandEncoder;
  private pass?: GPUComputePassEncoder;
  private readonly arena: GPUBuffer;
  private readonly arenaHost = new ArrayBuffer(ARENA_SLOTS * UNIFORM_SLOT);
  private readonly arenaView = new DataView(this.arenaHost);
  private slots = 0;
  private commands = 0;
  private recorded: Recorded[] = [];
  /** The validation checks of submitted batches; `failed` holds the first error they found. */
  private checks: Promise<void> = Promise.resolve();
  private failed?: EdgeflowError;

  constructor(private readonly device: GPUDevice, private readonly pool: BufferPool) {
    this.arena = device.createBuffer({
      label: "uniform arena",
      size: this.arenaHost.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** Whether commands wait in the open batch. */
  get pending(): boolean {
    return this.commands > 0;
  }

  /** Records one dispatch of the node `context` with its compiled pipeline and layout. */
  dispatch(
    d: Dispatch,
    pipeline: GPUComputePipeline,
    layout: GPUBindGroupLayout,
    context: ErrorContext,
  ): void {
    if (this.slots === ARENA_SLOTS) this.submit();
    const slot = this.slots++;
    packUniforms(d.program.uniforms, d.uniforms, this.arenaView, slot * UNIFORM_SLOT);
    const entries: GPUBindGroupEntry[] = [];
    const bind = (b: GpuBuffer) => {
      b.storage.batch = this.batch;
      entries.push({ binding: entries.length, resource: { buffer: b.gpu, size: b.bindingBytes } });
    };
    d.inputs.forEach(bind);
    d.outputs.forEach(bind);
    entries.push({
      binding: entries.length,
      resource: { buffer: this.arena, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT },
    });
    const group = this.device.createBindGroup({ layout, entries });
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    const [x, y = 1, z = 1] = d.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    this.recorded.push({
      context,
      program: d.program.name,
      pipeline,
      group,
      workgroups: [x, y, z],
    });
    this.commands++;
    this.stats.dispatches++;
  }

  /** Records a buffer copy (closing the compute pass: copies live outside passes). */
  copy(src: GpuBuffer, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    src.storage.batch = this.batch;
    this.endPass();
    this.openEncoder().copyBufferToBuffer(src.gpu, 0, dst, dstOffset, bytes);
    this.commands++;
  }

  /** Submits the open batch (nothing when it is empty) and opens the next. */
  submit(): void {
    if (this.commands === 0) return;
    this.endPass();
    this.device.pushErrorScope("validation");
    const commands = this.encoder!.finish();
    this.encoder = undefined;
    if (this.slots > 0) {
      this.device.queue.writeBuffer(this.arena, 0, this.arenaHost, 0, this.slots * UNIFORM_SLOT);
    }
    this.device.queue.submit([commands]);
    const scope = this.device.popErrorScope();
    const recorded = this.recorded;
    this.recorded = [];
    this.checks = Promise.all([this.checks, scope]).then(async ([, error]) => {
      if (error && !this.failed) this.failed = await this.diagnose(error, recorded);
    });
    this.stats.submits++;
    this.slots = 0;
    this.commands = 0;
    this.batch++;
    this.pool.endBatch();
  }

  /** Waits for the validation checks of the batches submitted so far (see `taken`). */
  settled(): Promise<void> {
    return this.checks;
  }

  /** The first error the finished checks found, if any (once: a later run starts clean). */
  taken(): EdgeflowError | undefined {
    const e = this.failed;
    this.failed = undefined;
    return e;
  }

  destroy(): void {
    this.arena.destroy();
  }

  /**
   * The error of a refused batch, naming the first dispatch whose prefix of the batch the GPU
   * refuses (a dispatch may be refused only after another: Deno's wgpu checked bindings against
   * the previous pipeline); the GPU's own message where no dispatch is (a copy or upload).
   */
  private async diagnose(error: GPUError, recorded: readonly Recorded[]): Promise<EdgeflowError> {
    const refuses = async (count: number): Promise<GPUError | null> => {
      this.device.pushErrorScope("validation");
      const encoder = this.device.createCommandEncoder({ label: "diagnosis" });
      const pass = encoder.beginComputePass();
      for (const r of recorded.slice(0, count)) {
        pass.setPipeline(r.pipeline);
        pass.setBindGroup(0, r.group);
        pass.dispatchWorkgroups(...r.workgroups);
      }
      pass.end();
      encoder.finish();
      return await this.device.popErrorScope();
    };
    const all = await refuses(recorded.length);
    if (!all) return new EdgeflowError(`the GPU reported an error: ${error.message.trim()}`);
    // The shortest refused prefix ends with the culprit.
    let lo = 1, hi = recorded.length;
    let found = all;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = await refuses(mid);
      if (e) [hi, found] = [mid, e];
      else lo = mid + 1;
    }
    const culprit = recorded[lo - 1];
    return new EdgeflowError(
      `the GPU refused program ${culprit.program}: ${found.message.trim()}`,
      culprit.context,
    );
  }

  private openEncoder(): GPUCommandEncoder {
    return this.encoder ??= this.device.createCommandEncoder();
  }

  private computePass(): GPUComputePassEncoder {
    return this.pass ??= this.openEncoder().beginComputePass();
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }
}
