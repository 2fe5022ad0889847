/** The KernelContext the executor hands a kernel: inputs, output allocation, variables, counters. */
import { HostBuffer, retain } from "./buffer.ts";
import type { Device, DeviceBuffer } from "./device.ts";
import { EdgeflowError } from "./errors.ts";
import type { Node } from "./graph.ts";
import type { KernelContext } from "./kernel.ts";
import type { Attrs, TensorSpec } from "./op.ts";
import type { PlanNode } from "./plan.ts";
import type { ResourceTable } from "./resources.ts";
import type { QueueTable } from "./queues/queue.ts";
import type { StackTable } from "./control_flow/stacks.ts";
import type { TensorArrayTable } from "./tensor_array/table.ts";
import { formatShape, isFullyDefined, type Shape } from "./shape.ts";
import { Tensor } from "./tensor.ts";

/** State a session keeps across runs that kernels reach through their context. */
export interface SessionState {
  /** Philox counter position per stateful random node. */
  readonly randomCounters: Map<string, number>;
  /** Aborted when the session closes: runs with loops stop (core/executor.ts). */
  readonly closing?: AbortSignal;
  /** The session's queues. */
  readonly queues?: QueueTable;
  /** The step's cancellation: core/step.ts sets it per step from `closing` and the step's errors. */
  readonly signal?: AbortSignal;
  /** The step's stacks (a while loop's gradient): core/step.ts makes them per step. */
  readonly stacks?: StackTable;
  /** The step's TensorArrays: core/step.ts makes a table per step (TensorFlow's step container). */
  readonly tensorArrays?: TensorArrayTable;
}

export class RunKernelContext implements KernelContext {
  readonly outputs: (DeviceBuffer | undefined)[];
  private inferred?: TensorSpec[];

  constructor(
    private readonly planNode: PlanNode,
    readonly inputs: readonly DeviceBuffer[],
    private readonly hosts: readonly (Tensor | undefined)[],
    private readonly state: SessionState,
  ) {
    this.outputs = new Array(planNode.outputCount);
  }

  get node(): Node {
    return this.planNode.node;
  }
  get attrs(): Attrs {
    return this.planNode.node.attrs;
  }
  get device(): Device {
    return this.planNode.device;
  }
  get resources(): ResourceTable {
    return this.planNode.resources;
  }
  get queues(): QueueTable | undefined {
    return this.state.queues;
  }
  get signal(): AbortSignal | undefined {
    return this.state.signal;
  }
  get stacks(): StackTable | undefined {
    return this.state.stacks;
  }
  get tensorArrays(): TensorArrayTable | undefined {
    return this.state.tensorArrays;
  }

  hostInput(i: number): Tensor {
    const t = this.hosts[i];
    if (t === undefined) {
      throw new EdgeflowError(`input ${i} was not declared a host input of this kernel`);
    }
    return t;
  }

  /**
   * Runs the op's shape inference on this run's inputs (host-memory values included) where the
   * plan could not, before the kernel reads anything: every device then refuses what the op's
   * inference refuses (a vector where an axis belongs, a rank the op lacks) with the op's message,
   * whatever its kernel decodes for itself.
   */
  inferRunTimeShapes(): void {
    if (this.planNode.outputShapes || this.inferred) return;
    // A Merge gets only its chosen input (the others are holes): its shape is that input's.
    const given = this.node.op.controlFlow === "Merge"
      ? this.inputs.filter((b) => b !== undefined)
      : this.inputs;
    const specs = given.map((b, j) => ({
      dtype: b.dtype,
      shape: b.shape,
      value: this.hosts[j],
    }));
    this.inferred = this.node.op.infer(specs, this.attrs);
  }

  outputSpecs(): readonly TensorSpec[] {
    if (this.planNode.outputShapes) return this.node.outputSpecs;
    this.inferRunTimeShapes();
    return this.inferred!;
  }

  outputShape(i: number): Shape {
    const known = this.planNode.outputShapes;
    if (known) return known[i];
    this.inferRunTimeShapes();
    const s = this.inferred![i];
    if (!isFullyDefined(s.shape)) {
      throw new EdgeflowError(
        `shape of output ${i} is ${formatShape(s.shape)} at run time; the kernel must compute it`,
      );
    }
    return s.shape;
  }

  output(i: number, shape?: Shape): DeviceBuffer {
    const spec = { dtype: this.node.outputSpecs[i].dtype, shape: shape ?? this.outputShape(i) };
    const buffer = this.planNode.hostOutputs[i]
      ? new HostBuffer(Tensor.zeros(spec.dtype, spec.shape))
      : this.device.allocate(spec);
    this.setOutput(i, buffer);
    return buffer;
  }

  setOutput(i: number, buffer: DeviceBuffer): void {
    if (i >= this.outputs.length) throw new EdgeflowError(`has no output ${i}`);
    if (this.outputs[i] !== undefined) throw new EdgeflowError(`output ${i} was set twice`);
    this.outputs[i] = retain(buffer);
  }

  readVariable(handle: string): Tensor {
    const b = this.resources.get(handle);
    if (b instanceof HostBuffer) return b.tensor;
    throw new EdgeflowError(
      `variable '${handle}' lives in ${this.device.name} memory; read it with a kernel`,
    );
  }

  assignVariable(handle: string, value: Tensor): void {
    const b = this.device.upload(value);
    if (b instanceof Promise) {
      throw new EdgeflowError(
        `${this.device.name} uploads asynchronously; assign variables with a kernel`,
      );
    }
    this.resources.set(handle, b);
  }

  randomCounter(count: number): number {
    const name = this.node.name;
    const start = this.state.randomCounters.get(name) ?? 0;
    this.state.randomCounters.set(name, start + count);
    return start;
  }
}
