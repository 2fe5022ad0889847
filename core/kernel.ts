/**
 * Kernels (one op on one device type), device plugins, and the kernel registry: a structured map
 * (op, device type) → kernels that refuses duplicates and answers which devices can run an op.
 */
import type { DType } from "./dtype.ts";
import type { BufferOf, Device, DeviceOptions } from "./device.ts";
import type { DeviceType } from "./device_spec.ts";
import { EdgeflowError } from "./errors.ts";
import type { Node } from "./graph.ts";
import { type Attrs, type HostContext, type OpDef, resolvesTo, type TensorSpec } from "./op.ts";
import type { ResourceTable } from "./resources.ts";
import type { QueueTable } from "./queues/queue.ts";
import type { StackTable } from "./control_flow/stacks.ts";
import type { TensorArrayTable } from "./tensor_array/table.ts";
import type { Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/**
 * What a kernel sees while it runs. Also a HostContext, so reference code can run through it.
 *
 * Buffers are typed by the device (`BufferOf<D>`: a WebGPU kernel's inputs are GpuBuffers), so
 * kernels need no casts. The one narrowing from DeviceBuffer is core's (RunKernelContext, built
 * by the executor): every input not read in host memory has been copied to `device` before the
 * kernel runs, and `output` allocates on `device`. The exception is an output the op keeps in
 * host memory (Shape, VarHandleOp), a HostBuffer: those ops' kernels are core's own, typed with
 * the plain Device.
 */
// deno-lint-ignore no-explicit-any
export interface KernelContext<A extends Attrs = any, D extends Device = Device>
  extends HostContext {
  readonly node: Node<A>;
  readonly attrs: A;
  readonly device: D;
  /** Input buffers, already on `device` (host-memory inputs are read with hostInput). */
  readonly inputs: readonly BufferOf<D>[];
  /** An input in host memory (the op's HostMemory, or the kernel's override), as a host tensor. */
  hostInput(i: number): Tensor;
  /**
   * The concrete shape of output i: the one inferred when the plan was built where it was fully
   * known then, else from the op's shape inference on this run's inputs.
   */
  outputShape(i: number): Shape;
  /**
   * Every output's dtype and shape as the op's inference gives them for this run: the plan's
   * static specs where they were fully known, else inferred once from this run's inputs (a shape
   * may stay partial where only the kernel can compute it).
   */
  outputSpecs(): readonly TensorSpec[];
  /**
   * Allocates output i (shape defaults to `outputShape(i)`) and returns it: on the device, or in
   * host memory for an output the op keeps there.
   */
  output(i: number, shape?: Shape): BufferOf<D>;
  /** Sets output i to an existing buffer: an input forwarded, a variable's value, a view. */
  setOutput(i: number, buffer: BufferOf<D>): void;
  /** Variables living on this device (their values are this device's buffers). */
  readonly resources: ResourceTable<BufferOf<D>>;
  /** The session's queues (host state shared by its runs); absent outside a session. */
  readonly queues?: QueueTable;
  /** The step's stacks (StackV2 resources), released when the step ends; absent outside one. */
  readonly stacks?: StackTable;
  /** The step's TensorArrays (TensorFlow's step container); absent outside a step. */
  readonly tensorArrays?: TensorArrayTable;
  /**
   * Aborted when the step fails or the session closes: a kernel that waits (a queue's dequeue)
   * stops waiting and fails with the signal's reason, so no step hangs on a dead peer.
   */
  readonly signal?: AbortSignal;
}

/**
 * What a kernel knows about its node when the plan is built (TensorFlow's OpKernelConstruction):
 * resolved attrs, the static specs of its inputs and outputs, and its device.
 */
// deno-lint-ignore no-explicit-any
export interface KernelConstruction<A extends Attrs = any, D extends Device = any> {
  readonly node: Node<A>;
  readonly attrs: A;
  readonly device: D;
  /** What the graph knows about each input (shapes may be partial). */
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /**
   * Per output: whether a kernel on this device computes on it in the plan. Where none does
   * (its readers take it in host memory, sit on other devices, or it is only fetched), a value
   * known on the host (a Const) may stay there.
   */
  readonly computedOn: readonly boolean[];
  /**
   * Whether the plan runs a stateful op (reads or assigns a variable, fills a queue, draws random
   * numbers). Such a plan may run only once (a variable's initializer), so a Const waits for its
   * second run before it stays in device memory; a stateless plan (a served frozen model) keeps
   * its Consts from the first run. Absent: false.
   */
  readonly statefulPlan?: boolean;
}

/**
 * One node's kernel, made once when the plan is built: whatever depends only on the node
 * (attributes, static shapes, broadcast plans, GPU programs) is resolved there, so `run` does
 * only the work that depends on this run's values and shapes.
 */
// deno-lint-ignore no-explicit-any
export interface KernelInstance<A extends Attrs = any, D extends Device = any> {
  run(ctx: KernelContext<A, D>): void | Promise<void>;
  /** Frees what the instance holds on its device (a constant's buffer) when its plan goes. */
  dispose?(): void;
}

// deno-lint-ignore no-explicit-any
export interface Kernel<A extends Attrs = any, D extends Device = any> {
  /** The op this kernel implements (the object, never its name). */
  readonly op: OpDef<A>;
  /** The dtypes of the op's type attr this kernel accepts; all the op allows when absent. */
  readonly dtypes?: readonly DType[];
  /** The op's modes (`OpDef.kernelMode`) this kernel runs besides the default one ("all": REF). */
  readonly modes?: readonly string[] | "all";
  /**
   * Overrides the op's HostMemory inputs, only where a device really differs; `hostReason`
   * says why. A negative index counts from the end.
   */
  readonly hostInputs?: readonly number[];
  readonly hostReason?: string;
  /**
   * Why this kernel does not apply the op's run-time checks (the NULL device holds no values to
   * check); the checks run before every other kernel.
   */
  readonly uncheckedReason?: string;
  /**
   * Makes the node's instance when the plan is built (TensorFlow's OpKernel constructor). A
   * kernel gives `create` or `run`; a plain `run` is its own instance.
   */
  create?(construction: KernelConstruction<A, D>): KernelInstance<A, D>;
  /** Runs the op; may return a promise (the executor awaits only where values reach the host). */
  run?(ctx: KernelContext<A, D>): void | Promise<void>;
  /** Work of one call, for the cost model; elementwise-sized when absent. */
  cost?(inputs: readonly TensorSpec[], attrs: A): Cost;
  /** How far results may be from the reference (exact when absent), with the reason. */
  readonly tolerance?: Tolerance | ((c: KernelCase<A>) => Tolerance);
  /** Cases where the kernel legitimately differs from the reference, as data with the reason. */
  readonly differs?: readonly Difference<A>[];
}

/** The instance of `kernel` for one node: its `create`, or its plain `run`. */
export function instantiate<A extends Attrs, D extends Device>(
  kernel: Kernel<A, D>,
  construction: KernelConstruction<A, D>,
): KernelInstance<A, D> {
  if (kernel.create) return kernel.create(construction);
  const run = kernel.run;
  if (!run) {
    throw new EdgeflowError(`the ${kernel.op.name} kernel has neither create nor run`);
  }
  return { run: (ctx) => run.call(kernel, ctx) };
}

/**
 * The kernels, restricted to the dtypes a device holds (for the device-independent kernels of
 * core/basic_kernels.ts); kernels of ops without a type attr are returned as they are.
 */
export function forDTypes<D extends Device>(
  kernels: readonly Kernel[],
  dtypes: readonly DType[],
): Kernel<Attrs, D>[] {
  return kernels.map((k) => (k.op.typeAttr ? { ...k, dtypes } : k));
}

/** Per input of a node with `count` inputs: whether `kernel` reads it in host memory. */
export function hostInputsOf(kernel: Kernel, count: number): boolean[] {
  const list = kernel.hostInputs ?? kernel.op.hostMemory?.inputs;
  return Array.from({ length: count }, (_, i) => resolvesTo(list, i, count));
}

/**
 * The run of Identity and PlaceholderWithDefault on any device: the output is the input's
 * buffer. Buffers are immutable once written, so forwarding is safe, and it moves nothing.
 */
export function forwardInput(ctx: KernelContext): void {
  ctx.setOutput(0, ctx.inputs[0]);
}

/** Inputs and resolved attrs of one equivalence-test case. */
export interface KernelCase<A extends Attrs> {
  readonly inputs: readonly Tensor[];
  readonly attrs: A;
}

/**
 * A value v matches reference r when |v - r| ≤ atol + rtol·|r| + ulps16·ulp16(r), or within `ulps`
 * float32 ULPs.
 */
export interface Tolerance {
  atol?: number;
  rtol?: number;
  ulps?: number;
  /**
   * For bfloat16 and float16 outputs: units in the last place of the output's dtype at r (a
   * float32 result a few float32 ULPs off rounds at most one 16-bit ULP away: `ulps16: 1`).
   */
  ulps16?: number;
  /** Why the kernel differs from the reference at all (fused multiply-add, bfloat16 inputs). */
  reason: string;
}

/** float32's largest finite value. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A float32 kernel's tolerance where a partial result (a sum or product of the case's finite
 * values) may pass float32's range, `partialBound` bounding its magnitude: the kernel's ±Inf, or
 * NaN from Inf − Inf, is then TensorFlow's float32 behaviour while the float64 reference may stay
 * finite. An atol of FLOAT32_MAX or more says so to the equivalence suite, which admits an
 * overflowed output under it.
 */
export function admittingOverflow(tol: Tolerance, partialBound: number): Tolerance {
  if (!(partialBound >= FLOAT32_MAX)) return tol;
  return { ...tol, atol: Math.max(tol.atol ?? 0, FLOAT32_MAX) };
}

export interface Difference<A extends Attrs> {
  /** Why the device differs here (a NaN rule, a precision the hardware lacks). */
  reason: string;
  /** True for the cases this applies to; the suite reports them instead of comparing. */
  when(c: KernelCase<A>): boolean;
}

export interface Cost {
  flops: number;
  bytes: number;
}

/** Declares a kernel with `ctx.attrs` typed by the op. */
export function defineKernel<A extends Attrs, D extends Device = Device>(
  op: OpDef<A>,
  kernel: Omit<Kernel<A, D>, "op">,
): Kernel<A, D> {
  return { op, ...kernel };
}

/** A device type's factory and kernels: plain data, installed explicitly (mod.ts). */
// deno-lint-ignore no-explicit-any
export interface DevicePlugin<D extends Device = any> {
  readonly type: DeviceType;
  /** Creates a device, or null where it is not available here (no GPU adapter). */
  create(options?: DeviceOptions): Promise<D | null>;
  // deno-lint-ignore no-explicit-any
  readonly kernels: readonly Kernel<any, D>[];
}

export class KernelRegistry {
  private readonly plugins = new Map<DeviceType, DevicePlugin>();
  private readonly byOp = new Map<string, Map<DeviceType, Kernel[]>>();

  /** Adds a plugin's kernels; throws on a second plugin of a type or overlapping kernels. */
  install(plugin: DevicePlugin): this {
    if (this.plugins.has(plugin.type)) {
      throw new Error(`a ${plugin.type} plugin is installed already`);
    }
    for (const kernel of plugin.kernels) this.add(plugin.type, kernel);
    this.plugins.set(plugin.type, plugin);
    return this;
  }

  /**
   * Adds one kernel for a device type (a user's op on an installed device); an Error on a
   * kernel overlapping one there.
   */
  addKernel(type: DeviceType, kernel: Kernel): this {
    this.add(type, kernel);
    return this;
  }

  private add(type: DeviceType, kernel: Kernel): void {
    const perType = this.byOp.get(kernel.op.name) ?? new Map<DeviceType, Kernel[]>();
    this.byOp.set(kernel.op.name, perType);
    const list = perType.get(type) ?? [];
    for (const other of list) {
      const mine = dtypesOf(kernel), theirs = dtypesOf(other);
      const overlap = mine.filter((d) => theirs.includes(d));
      if (overlap.length > 0 || mine.length === 0 || theirs.length === 0) {
        throw new Error(
          `duplicate ${type} kernel for ${kernel.op.name} (dtypes ${overlap.join(", ")})`,
        );
      }
    }
    list.push(kernel);
    perType.set(type, list);
  }

  plugin(type: DeviceType): DevicePlugin | undefined {
    return this.plugins.get(type);
  }
  pluginTypes(): DeviceType[] {
    return [...this.plugins.keys()];
  }

  /** The kernel for an op on a device type accepting `dtype` (the op's type attr value). */
  find(op: string, type: DeviceType, dtype?: DType): Kernel | undefined {
    const list = this.byOp.get(op)?.get(type);
    if (!list) return undefined;
    return list.find((k) => dtype === undefined || dtypesOf(k).includes(dtype));
  }

  /** The kernel that runs `node` on a device type, or undefined. */
  kernelFor(node: Node, type: DeviceType): Kernel | undefined {
    const typeAttr = node.op.typeAttr;
    const dtype = typeAttr ? (node.attrs[typeAttr] as DType) : undefined;
    const mode = node.op.kernelMode?.(node.attrs);
    if (mode === undefined) return this.find(node.op.name, type, dtype);
    const list = this.byOp.get(node.op.name)?.get(type) ?? [];
    return list.find((k) =>
      (dtype === undefined || dtypesOf(k).includes(dtype)) && runsMode(k, mode)
    );
  }

  /** Device types with at least one kernel for the op (for the placer and `deno task ops`). */
  deviceTypesFor(op: string): DeviceType[] {
    return [...(this.byOp.get(op)?.keys() ?? [])];
  }

  /** Every registered kernel with its device type (for the equivalence suite). */
  list(): { type: DeviceType; kernel: Kernel }[] {
    const out: { type: DeviceType; kernel: Kernel }[] = [];
    for (const perType of this.byOp.values()) {
      for (const [type, kernels] of perType) {
        for (const kernel of kernels) out.push({ type, kernel });
      }
    }
    return out;
  }
}

/** Whether a kernel runs the op's `mode` (OpDef.kernelMode); every kernel runs the default. */
export function runsMode(kernel: Kernel, mode: string | undefined): boolean {
  const modes = kernel.modes;
  return mode === undefined || modes === "all" || (modes?.includes(mode) ?? false);
}

/** The dtypes a kernel accepts: its own list, else every dtype its op allows. */
export function dtypesOf(kernel: Kernel): readonly DType[] {
  if (kernel.dtypes) return kernel.dtypes;
  const typeAttr = kernel.op.typeAttr;
  const spec = typeAttr
    ? (kernel.op.attrs as Record<string, { allowed?: readonly DType[] }>)[typeAttr]
    : undefined;
  return spec?.allowed ?? [];
}

/** The kernel for `node` on `type`, or an EdgeflowError naming the node, op, dtype and device. */
export function requireKernel(registry: KernelRegistry, node: Node, type: DeviceType): Kernel {
  const kernel = registry.kernelFor(node, type);
  if (kernel) return kernel;
  const typeAttr = node.op.typeAttr;
  const dtype = typeAttr ? ` for dtype ${node.attrs[typeAttr]}` : "";
  const others = registry.deviceTypesFor(node.op.name);
  throw new EdgeflowError(
    `device type ${type} has no kernel${dtype}` +
      (others.length ? ` (kernels exist on ${others.join(", ")})` : " on any device"),
    { node: node.name, op: node.op.name },
  );
}

/** The registry mod.ts fills with the default plugins; sessions use it unless given another. */
export const defaultRegistry: KernelRegistry = new KernelRegistry();
