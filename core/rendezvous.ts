/**
 * The rendezvous where a Send meets its Recv (section 3.2.2 of the 2015 paper): keyed by source
 * device, destination device, tensor, frame and iteration. The in-process implementation is a
 * table of promises; a cross-process one (an RPC) implements the same interface. A step uses one
 * rendezvous: an error in any partition aborts it, which fails every pending and later `recv`
 * and releases every value sent but not received, so no partition waits forever on a peer that
 * died and no buffer outlives the step.
 */
import { release } from "./buffer.ts";
import type { DeviceBuffer } from "./device.ts";
import { EdgeflowError } from "./errors.ts";

export interface RendezvousKey {
  readonly src: string;
  readonly dst: string;
  /** The tensor's name in the placed graph ("dense/MatMul:0"; "^node" for a control edge). */
  readonly tensor: string;
  /** The control-flow frame ("" for the root frame) and its iteration. */
  readonly frame: string;
  readonly iteration: number;
}

/** One string per key: what a table (or a wire protocol) indexes by. */
export function formatKey(k: RendezvousKey): string {
  return `${k.src};${k.dst};${k.tensor};${k.frame};${k.iteration}`;
}

export interface Rendezvous {
  /**
   * Hands a value to the matching `recv`; the rendezvous owns one reference to it until the
   * receiver takes it (or the step aborts and it is released). Throws once aborted.
   */
  send(key: RendezvousKey, value: DeviceBuffer): void;
  /** The value sent under `key`, whenever it is sent; the caller then owns the reference. */
  recv(key: RendezvousKey): Promise<DeviceBuffer>;
  /** Fails the step: pending and later receives reject with `error`; held values are released. */
  abort(error: EdgeflowError): void;
  /** The error the step was aborted with, if any. */
  readonly aborted?: EdgeflowError;
}

interface Slot {
  value?: DeviceBuffer;
  waiter?: { resolve(b: DeviceBuffer): void; reject(e: unknown): void };
}

/** The in-process rendezvous: a table of values waiting for receivers and receivers waiting. */
export class LocalRendezvous implements Rendezvous {
  private readonly table = new Map<string, Slot>();
  aborted?: EdgeflowError;

  send(key: RendezvousKey, value: DeviceBuffer): void {
    if (this.aborted) throw this.aborted;
    const k = formatKey(key);
    const slot = this.table.get(k);
    if (slot?.waiter) {
      this.table.delete(k);
      slot.waiter.resolve(value);
      return;
    }
    if (slot) throw new EdgeflowError(`rendezvous: ${k} was sent twice`);
    this.table.set(k, { value });
  }

  recv(key: RendezvousKey): Promise<DeviceBuffer> {
    if (this.aborted) return Promise.reject(this.aborted);
    const k = formatKey(key);
    const slot = this.table.get(k);
    if (slot?.value) {
      this.table.delete(k);
      return Promise.resolve(slot.value);
    }
    if (slot) return Promise.reject(new EdgeflowError(`rendezvous: ${k} was received twice`));
    return new Promise((resolve, reject) => this.table.set(k, { waiter: { resolve, reject } }));
  }

  abort(error: EdgeflowError): void {
    if (this.aborted) return;
    this.aborted = error;
    const slots = [...this.table.values()];
    this.table.clear();
    for (const s of slots) {
      if (s.value) release(s.value);
      s.waiter?.reject(error);
    }
  }

  /** Values sent and not yet received (a finished step leaves none). */
  get pending(): number {
    return this.table.size;
  }
}
