// A program using every queue op on one device with no soft placement: the equivalence suite
// runs it on each device type with queue kernels (queues wait and live in a session, which the
// one-op cases the suite draws for other ops cannot express).
import assert from "node:assert/strict";
import type { Device } from "../../core/device.ts";
import type { KernelRegistry } from "../../core/kernel.ts";
import * as ef from "../../mod.ts";

export async function checkQueuesOn(device: Device, registry: KernelRegistry): Promise<void> {
  const g = new ef.Graph();
  const fifo = ef.fifoQueue(g, ["float32", "int32"], { capacity: 4, name: "fifo" });
  const shuffle = ef.randomShuffleQueue(g, ["int32"], { seed: 3, name: "shuffle" });
  const padding = ef.paddingFifoQueue(g, ["float32"], { shapes: [[-1]], name: "padding" });
  const x = ef.placeholder(g, "float32", [null], { name: "x" });
  const k = ef.placeholder(g, "int32", [null], { name: "k" });
  const enq = [fifo.enqueueMany([ef.reshape(x, [-1, 1]), k]), shuffle.enqueueMany([k])];
  const one = padding.enqueue([x]);
  const [fx, fk] = fifo.dequeueMany(2);
  const [sk] = shuffle.dequeue();
  const [px] = padding.dequeueMany(2);
  await using s = new ef.Session(g, { registry, devices: [device], allowSoftPlacement: false });
  await s.run([], { x: [1, 2, 3], k: [4, 5, 6] }, enq);
  await s.run([], { x: [1] }, [one]);
  await s.run([], { x: [2, 3] }, [one]);
  const [a, b, c, p] = await s.run([fx, fk, sk, px]);
  // A separate run: within one, size and dequeue are unordered (as in TensorFlow).
  const n = await s.run(fifo.size());
  assert.deepEqual(a.toArray(), [[1], [2]]);
  assert.deepEqual(b.toArray(), [4, 5]);
  assert.ok([4, 5, 6].includes(c.toArray() as number));
  assert.deepEqual(p.toArray(), [[1, 0], [2, 3]]);
  assert.equal(n.toArray(), 1);
  await s.run([], {}, [fifo.close()]);
  await assert.rejects(() => s.run(fx), /insufficient elements/);
}
