/**
 * The pipeline cache: compiled compute pipelines by shader-cache key, and one bind group layout
 * per (inputs, outputs) count (see program.ts for the binding layout). Compilation is
 * asynchronous and checked: a WGSL error becomes an EdgeflowError that quotes the compiler.
 */
import { EdgeflowError, type ErrorContext } from "../../core/errors.ts";
import type { Program } from "./program.ts";

export class PipelineCache {
  private readonly ready = new Map<string, GPUComputePipeline>();
  private readonly pending = new Map<string, Promise<GPUComputePipeline>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelineLayouts = new Map<string, GPUPipelineLayout>();
  /** Pipelines compiled so far (tests check a second session of a graph compiles none). */
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The compiled pipeline of a program, or undefined when it was never compiled. */
  get(program: Program): GPUComputePipeline | undefined {
    return this.ready.get(program.key);
  }

  get size(): number {
    return this.ready.size;
  }

  /** Compiles a program (once per key); rejects with an EdgeflowError naming `context`. */
  compile(program: Program, context: ErrorContext): Promise<GPUComputePipeline> {
    const done = this.ready.get(program.key);
    if (done) return Promise.resolve(done);
    let p = this.pending.get(program.key);
    if (!p) {
      p = this.build(program, context).finally(() => this.pending.delete(program.key));
      this.pending.set(program.key, p);
    }
    return p;
  }

  /** The bind group layout of programs with these counts. */
  bindGroupLayout(inputs: number, outputs: number): GPUBindGroupLayout {
    const key = `${inputs}/${outputs}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < inputs + outputs; i++) {
        entries.push({
          binding: i,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: i < inputs ? "read-only-storage" : "storage" },
        });
      }
      entries.push({
        binding: inputs + outputs,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform" },
      });
      layout = this.device.createBindGroupLayout({ label: `io${key}`, entries });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  private pipelineLayout(inputs: number, outputs: number): GPUPipelineLayout {
    const key = `${inputs}/${outputs}`;
    let layout = this.pipelineLayouts.get(key);
    if (!layout) {
      layout = this.device.createPipelineLayout({
        bindGroupLayouts: [this.bindGroupLayout(inputs, outputs)],
      });
      this.pipelineLayouts.set(key, layout);
    }
    return layout;
  }

  private async build(program: Program, context: ErrorContext): Promise<GPUComputePipeline> {
    let code: string;
    try {
      code = program.source();
    } catch (e) {
      throw new EdgeflowError(`cannot generate WGSL for ${program.name}: ${e}`, context);
    }
    // Everything created between push and pop reports into this scope, so errors of concurrent
    // compiles do not mix.
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ label: program.name, code });
    const pipeline = this.device.createComputePipelineAsync({
      label: program.name,
      layout: this.pipelineLayout(program.inputs, program.outputs),
      compute: { module, entryPoint: "main" },
    });
    const scope = this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error");
    const scoped = await scope;
    if (errors.length > 0 || scoped) {
      pipeline.catch(() => {});
      const message = errors.length > 0
        ? errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message.trim()}`).join("\n")
        : scoped!.message.trim();
      throw new EdgeflowError(
        `WGSL of program ${program.name} does not compile:\n${message}`,
        context,
      );
    }
    try {
      const compiled = await pipeline;
      this.ready.set(program.key, compiled);
      this.compiled++;
      return compiled;
    } catch (e) {
      throw new EdgeflowError(
        `pipeline ${program.name} could not be created: ${(e as Error).message}`,
        context,
      );
    }
  }
}
