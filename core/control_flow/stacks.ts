/**
 * The stacks of one step (TensorFlow's StackV2 resources in the step container): a while loop's
 * gradient pushes each forward value it needs in the forward loop and pops them in reverse order
 * in the backward loop (the EuroSys 2018 paper, section 5.1). A stack holds device buffers (one
 * reference each) and lives only as long as its step: `releaseAll` frees what is left when the
 * step ends, so a step that fails or pops less than it pushed leaks nothing.
 */
import { release, retain } from "../buffer.ts";
import type { DeviceBuffer } from "../device.ts";
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";

export class Stack {
  private readonly items: DeviceBuffer[] = [];
  closed = false;

  constructor(readonly name: string, readonly elemType: DType, readonly maxSize: number) {}

  get size(): number {
    return this.items.length;
  }

  /** Keeps a reference to `b` on top of the stack. */
  push(b: DeviceBuffer): void {
    if (this.closed) throw new EdgeflowError(`stack '${this.name}' is closed`);
    if (b.dtype !== this.elemType) {
      throw new EdgeflowError(
        `stack '${this.name}' holds ${this.elemType}, pushed a ${b.dtype} value`,
      );
    }
    if (this.maxSize >= 0 && this.items.length >= this.maxSize) {
      throw new EdgeflowError(
        `stack '${this.name}' is full: it holds at most ${this.maxSize} elements`,
      );
    }
    this.items.push(retain(b));
  }

  /** The top buffer; the caller takes over the stack's reference. */
  pop(): DeviceBuffer {
    if (this.closed) throw new EdgeflowError(`stack '${this.name}' is closed`);
    const b = this.items.pop();
    if (b === undefined) {
      throw new EdgeflowError(`pop from the empty stack '${this.name}'`);
    }
    return b;
  }

  /** Releases every element; later pushes and pops are refused. */
  close(): void {
    this.closed = true;
    for (const b of this.items.splice(0)) release(b);
  }
}

/** The stacks made in one step, by handle name. */
export class StackTable {
  private readonly stacks = new Map<string, Stack>();
  private made = 0;

  /** A new stack with a name unique in this step (TensorFlow appends a per-step id too). */
  create(base: string, elemType: DType, maxSize: number): Stack {
    const s = new Stack(`${base}_${this.made++}`, elemType, maxSize);
    this.stacks.set(s.name, s);
    return s;
  }

  get(name: string): Stack {
    const s = this.stacks.get(name);
    if (!s) throw new EdgeflowError(`no stack '${name}' in this step`);
    return s;
  }

  /** Closes and forgets one stack (StackCloseV2). */
  close(name: string): void {
    this.get(name).close();
    this.stacks.delete(name);
  }

  /** Buffers held by every stack (tests check the step end leaves none). */
  get held(): number {
    let n = 0;
    for (const s of this.stacks.values()) n += s.size;
    return n;
  }

  /** The step is over: every stack's elements are released. */
  releaseAll(): void {
    for (const s of this.stacks.values()) s.close();
    this.stacks.clear();
  }
}
