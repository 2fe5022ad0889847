/**
 * TensorFlow 1's TensorArray (tensorflow/core/kernels/tensor_array.h): a per-step resource of
 * write-once elements. It lives in the step's table (TensorFlow keeps it in the step container),
 * so it is gone when the run ends and concurrent runs never share one. The ops order their effects
 * through the float "flow" tensor they take and give (core/ops/tensor_array.ts); this class holds
 * the state and applies TensorFlow's rules, with its messages.
 */
import { type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { formatShape, isCompatible, isFullyDefined, type PartialShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";

interface Slot {
  tensor?: Tensor;
  written: boolean;
  read: boolean;
  cleared: boolean;
}

export interface TensorArraySpec {
  readonly dtype: DType;
  readonly size: number;
  readonly elementShape: PartialShape;
  readonly dynamicSize: boolean;
  readonly clearAfterRead: boolean;
  readonly identicalElementShapes: boolean;
  /** Gradient arrays add a second write to an index instead of refusing it. */
  readonly multipleWritesAggregate?: boolean;
}

export class TensorArray {
  private readonly slots: Slot[];
  private elementShape: PartialShape;
  private closed = false;
  /** Gradient arrays made from this one, by source. */
  readonly grads = new Map<string, string>();

  constructor(readonly handle: string, readonly spec: TensorArraySpec) {
    this.slots = Array.from(
      { length: spec.size },
      () => ({ written: false, read: false, cleared: false }),
    );
    this.elementShape = spec.elementShape;
  }

  get size(): number {
    this.checkOpen();
    return this.slots.length;
  }
  get dtype(): DType {
    return this.spec.dtype;
  }
  /** The element shape as far as it is known now (a write may have pinned it). */
  get inferredShape(): PartialShape {
    return this.elementShape;
  }

  private label(): string {
    return `TensorArray ${this.handle}`;
  }

  private checkOpen(): void {
    if (this.closed) throw new EdgeflowError(`${this.label()} has already been closed`);
  }

  /**
   * Writes element `index`. A split's pieces (`except0`) differ in their first dim: they are
   * checked against the element shape after it and do not pin it.
   */
  write(index: number, value: Tensor, except0 = false): void {
    this.checkOpen();
    if (value.dtype !== this.spec.dtype) {
      throw new EdgeflowError(
        `${this.label()}: TensorArray dtype is ${this.spec.dtype} but op is trying to write dtype ${value.dtype}`,
      );
    }
    if (index < 0) {
      throw new EdgeflowError(
        `${this.label()}: tried to write to index ${index} but array size is: ${this.slots.length}`,
      );
    }
    if (index >= this.slots.length) {
      if (!this.spec.dynamicSize) {
        throw new EdgeflowError(
          `${this.label()}: tried to write to index ${index} but array is not resizeable and ` +
            `size is: ${this.slots.length}`,
        );
      }
      while (this.slots.length <= index) {
        this.slots.push({ written: false, read: false, cleared: false });
      }
    }
    const expected = except0 && this.elementShape !== null && value.rank > 0
      ? [-1, ...this.elementShape.slice(1)]
      : this.elementShape;
    if (!isCompatible(value.shape, expected)) {
      throw new EdgeflowError(
        `${this.label()}: could not write to TensorArray index ${index} because the value shape ` +
          `is ${formatShape(value.shape)} which is incompatible with the TensorArray's inferred ` +
          `element shape: ${formatShape(this.elementShape)} (consider setting infer_shape=False)`,
      );
    }
    if (!except0 && this.spec.identicalElementShapes && !isFullyDefined(this.elementShape)) {
      this.elementShape = value.shape;
    }
    const slot = this.slots[index];
    if (slot.read) {
      throw new EdgeflowError(
        `${this.label()}: could not write to TensorArray index ${index} because it has already ` +
          "been read",
      );
    }
    if (slot.written && this.spec.multipleWritesAggregate) {
      slot.tensor = addTensors(slot.tensor!, value, this.label(), index);
      return;
    }
    if (slot.written) {
      throw new EdgeflowError(
        `${this.label()}: could not write to TensorArray index ${index} because it has already ` +
          "been written to",
      );
    }
    slot.tensor = value;
    slot.written = true;
  }

  read(index: number): Tensor {
    this.checkOpen();
    if (index < 0 || index >= this.slots.length) {
      throw new EdgeflowError(
        `${this.label()}: tried to read from index ${index} but array size is: ${this.slots.length}`,
      );
    }
    const slot = this.slots[index];
    if (slot.cleared) {
      throw new EdgeflowError(
        `${this.label()}: could not read index ${index} twice because it was cleared after a ` +
          "previous read (perhaps try setting clear_after_read = false?)",
      );
    }
    let value = slot.tensor;
    if (!slot.written) {
      // TensorFlow returns zeros for an unwritten element of a fully known shape (a gradient
      // array whose forward value had no gradient), and refuses otherwise.
      if (!isFullyDefined(this.elementShape)) {
        throw new EdgeflowError(
          `${this.label()}: could not read from TensorArray index ${index}: it has not been ` +
            `written to, and the element shape is not fully defined: ` +
            `${formatShape(this.elementShape)} (with a fully defined element_shape the read ` +
            "returns zeros)",
        );
      }
      value = Tensor.zeros(this.spec.dtype, this.elementShape);
    }
    slot.read = true;
    if (this.spec.clearAfterRead) {
      slot.tensor = undefined;
      slot.cleared = true;
    }
    return value!;
  }

  close(): void {
    this.checkOpen();
    this.closed = true;
    for (const s of this.slots) s.tensor = undefined;
  }
}

/** Elementwise sum of two gradients written to one index of a gradient array. */
function addTensors(a: Tensor, b: Tensor, label: string, index: number): Tensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new EdgeflowError(
      `${label}: could not aggregate to TensorArray index ${index} because the existing shape ` +
        `is ${formatShape(a.shape)} but the new input shape is ${formatShape(b.shape)}`,
    );
  }
  const x = numbers(a), y = numbers(b);
  return Tensor.fromNumbers(a.dtype, a.shape, Array.from(x, (v, i) => v + y[i]));
}

/** The TensorArrays of one step, by handle. */
export class TensorArrayTable {
  private readonly arrays = new Map<string, TensorArray>();
  private next = 0;

  /** A new array; its handle is unique in the step (an array made in a loop is one per iteration). */
  create(name: string, spec: TensorArraySpec): TensorArray {
    const handle = `${name}:${this.next++}`;
    const ta = new TensorArray(handle, spec);
    this.arrays.set(handle, ta);
    return ta;
  }

  get(handle: string): TensorArray {
    const ta = this.arrays.get(handle);
    if (!ta) {
      throw new EdgeflowError(
        `TensorArray ${handle} does not exist in this step (TensorArrays live for one run)`,
      );
    }
    return ta;
  }

  /** TensorArrayGradV3: the gradient array of `forward` for `source`, made on first use. */
  grad(forward: TensorArray, source: string): TensorArray {
    const known = forward.grads.get(source);
    if (known) return this.get(known);
    const g = this.create(`${forward.handle}@${source}`, {
      dtype: forward.dtype,
      size: forward.size,
      elementShape: forward.inferredShape,
      dynamicSize: false,
      clearAfterRead: true,
      identicalElementShapes: forward.spec.identicalElementShapes,
      multipleWritesAggregate: true,
    });
    forward.grads.set(source, g.handle);
    return g;
  }
}
