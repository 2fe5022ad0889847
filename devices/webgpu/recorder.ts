/**
 * Command batching: every dispatch and copy of a run goes into one open command encoder, inside
 * one compute pass where possible (WebGPU orders the dispatches of a pass and makes each one's
 * writes visible to the next), and is submitted once, when a value must leave the device or the
 * session flushes. Uniform values of all dispatches go into one arena: written on the host while
 * recording and uploaded with a single writeBuffer just before the submit, which the queue orders
 * before the batch's commands.
 */
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

  /** Records one dispatch with its compiled pipeline and bind group layout. */
  dispatch(d: Dispatch, pipeline: GPUComputePipeline, layout: GPUBindGroupLayout): void {
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
    const commands = this.encoder!.finish();
    this.encoder = undefined;
    if (this.slots > 0) {
      this.device.queue.writeBuffer(this.arena, 0, this.arenaHost, 0, this.slots * UNIFORM_SLOT);
    }
    this.device.queue.submit([commands]);
    this.stats.submits++;
    this.slots = 0;
    this.commands = 0;
    this.batch++;
    this.pool.endBatch();
  }

  destroy(): void {
    this.arena.destroy();
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
