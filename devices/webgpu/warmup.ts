/**
 * Warming pipelines. Some implementations translate a pipeline to machine code at its first
 * dispatch rather than at creation (lavapipe's JIT takes 100-400 ms a shader), which would land
 * in a session's first run. `prepare` therefore dispatches each new pipeline once on a degenerate
 * problem: one workgroup, every uniform 0 (programs compute nothing when their sizes are 0, see
 * program.ts), scratch buffers in every binding; then waits for the queue once.
 */
import type { PipelineCache } from "./pipelines.ts";
import type { Program } from "./program.ts";
import { UNIFORM_SLOT } from "./program.ts";

const SCRATCH = 256;

export class Warmup {
  private readonly input: GPUBuffer;
  private readonly outputs: GPUBuffer[] = [];
  private readonly uniforms: GPUBuffer;
  private readonly warmed = new Set<string>();

  constructor(private readonly device: GPUDevice, private readonly cache: PipelineCache) {
    const usage = GPUBufferUsage.STORAGE;
    this.input = device.createBuffer({ label: "warmup input", size: SCRATCH, usage });
    this.uniforms = device.createBuffer({
      label: "warmup uniforms",
      size: UNIFORM_SLOT,
      usage: GPUBufferUsage.UNIFORM,
    });
  }

  /** Dispatches the programs not warmed yet (their pipelines compiled) and waits for them. */
  async warm(programs: readonly Program[]): Promise<void> {
    const fresh = new Map<string, Program>();
    for (const p of programs) if (!this.warmed.has(p.key)) fresh.set(p.key, p);
    if (fresh.size === 0) return;
    const encoder = this.device.createCommandEncoder({ label: "warmup" });
    const pass = encoder.beginComputePass();
    for (const p of fresh.values()) {
      const entries: GPUBindGroupEntry[] = [];
      for (let i = 0; i < p.inputs; i++) {
        entries.push({ binding: i, resource: { buffer: this.input } });
      }
      for (let i = 0; i < p.outputs; i++) {
        entries.push({ binding: p.inputs + i, resource: { buffer: this.output(i) } });
      }
      entries.push({ binding: p.inputs + p.outputs, resource: { buffer: this.uniforms } });
      const layout = this.cache.bindGroupLayout(p.inputs, p.outputs);
      pass.setPipeline(this.cache.get(p)!);
      pass.setBindGroup(0, this.device.createBindGroup({ layout, entries }));
      pass.dispatchWorkgroups(1);
      this.warmed.add(p.key);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    for (const b of [this.input, this.uniforms, ...this.outputs]) b.destroy();
  }

  // Outputs get a buffer each: two writable bindings of one buffer in a dispatch are refused.
  private output(i: number): GPUBuffer {
    while (this.outputs.length <= i) {
      this.outputs.push(this.device.createBuffer({
        label: `warmup output ${this.outputs.length}`,
        size: SCRATCH,
        usage: GPUBufferUsage.STORAGE,
      }));
    }
    return this.outputs[i];
  }
}
