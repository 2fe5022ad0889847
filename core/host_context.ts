/** A HostContext over plain maps: what reference implementations use outside a session (tests). */
import { EdgeflowError } from "./errors.ts";
import type { HostContext } from "./op.ts";
import type { Tensor } from "./tensor.ts";

export class MapHostContext implements HostContext {
  readonly variables = new Map<string, Tensor>();
  private counters = new Map<string, number>();
  node = { name: "", op: { name: "" } };

  readVariable(handle: string): Tensor {
    const v = this.variables.get(handle);
    if (!v) {
      throw new EdgeflowError(`variable '${handle}' is not initialized`, {
        node: this.node.name,
        op: this.node.op.name,
      });
    }
    return v;
  }
  assignVariable(handle: string, value: Tensor): void {
    this.variables.set(handle, value);
  }
  randomCounter(count: number): number {
    const start = this.counters.get(this.node.name) ?? 0;
    this.counters.set(this.node.name, start + count);
    return start;
  }
}
