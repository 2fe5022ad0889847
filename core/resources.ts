/**
 * Variables on a device: a table from resource handle (the variable's shared name) to the buffer
 * holding its value. The table owns one reference to each value, so a value read by a
 * ReadVariableOp stays valid while the variable is reassigned.
 */
import { release, retain } from "./buffer.ts";
import type { DeviceBuffer } from "./device.ts";
import { EdgeflowError } from "./errors.ts";

export class ResourceTable<B extends DeviceBuffer = DeviceBuffer> {
  private readonly values = new Map<string, B>();

  has(handle: string): boolean {
    return this.values.has(handle);
  }

  /** The variable's value; an EdgeflowError when it was never assigned. */
  get(handle: string): B {
    const v = this.values.get(handle);
    if (!v) {
      throw new EdgeflowError(
        `variable '${handle}' is not initialized (run its initializer first)`,
      );
    }
    return v;
  }

  /** Replaces the value; the old one is released (freed unless a reader still holds it). */
  set(handle: string, value: B): void {
    retain(value);
    const old = this.values.get(handle);
    this.values.set(handle, value);
    if (old) release(old);
  }

  /** Whether the value may be updated in place: nobody but this table holds it. */
  exclusive(handle: string): boolean {
    return this.get(handle).refs === 1;
  }

  handles(): string[] {
    return [...this.values.keys()];
  }

  /** Releases every value (session close). */
  clear(): void {
    for (const v of this.values.values()) release(v);
    this.values.clear();
  }
}
