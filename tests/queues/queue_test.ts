// Queues: FIFO order, enqueue-many and dequeue-many, size, close, blocking across concurrent
// steps, cancellation by session close and by a failed step, random shuffle, padding.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

Deno.test("FIFO order, enqueue-many, dequeue-many and size", async () => {
  const g = new ef.Graph();
  const q = ef.fifoQueue(g, ["float32", "int32"], { shapes: [[2], []] });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const k = ef.placeholder(g, "int32", [], { name: "k" });
  const enq = q.enqueue([x, k]);
  const xs = ef.placeholder(g, "float32", [null, 2], { name: "xs" });
  const ks = ef.placeholder(g, "int32", [null], { name: "ks" });
  const enqMany = q.enqueueMany([xs, ks]);
  const [dx, dk] = q.dequeue();
  const [bx, bk] = q.dequeueMany(3);
  await using s = new ef.Session(g);
  await s.run([], { x: [1, 2], k: 1 }, [enq]);
  await s.run([], { xs: [[3, 4], [5, 6], [7, 8]], ks: [2, 3, 4] }, [enqMany]);
  assert.equal((await s.run(q.size())).toArray(), 4);
  const [a, b] = await s.run([dx, dk]);
  assert.deepEqual([a.toArray(), b.toArray()], [[1, 2], 1]);
  const [c, d] = await s.run([bx, bk]);
  assert.deepEqual(c.toArray(), [[3, 4], [5, 6], [7, 8]]);
  assert.deepEqual(d.toArray(), [2, 3, 4]);
  assert.equal((await s.run(q.size())).toArray(), 0);
  // Wrong component shape: the kernel's error names the queue.
  await assert.rejects(() => s.run([], { xs: [[1, 2, 3]], ks: [1] } as never, [enqMany]), /shape/);
});

Deno.test("a dequeue waits for a concurrent step's enqueue; a full queue makes enqueue wait", async () => {
  const g = new ef.Graph();
  const q = ef.fifoQueue(g, ["float32"], { capacity: 2 });
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const enq = q.enqueue([x]);
  const [y] = q.dequeue();
  await using s = new ef.Session(g);
  const waiting = s.run(y);
  let done = false;
  waiting.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(done, false);
  await s.run([], { x: 5 }, [enq]);
  assert.equal((await waiting).toArray(), 5);
  // Capacity 2: the third enqueue waits until a dequeue makes room.
  await s.run([], { x: 1 }, [enq]);
  await s.run([], { x: 2 }, [enq]);
  let third = false;
  const pending = s.run([], { x: 3 }, [enq]).then(() => (third = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(third, false);
  assert.equal((await s.run(y)).toArray(), 1);
  await pending;
  assert.equal((await s.run(y)).toArray(), 2);
  assert.equal((await s.run(y)).toArray(), 3);
});

Deno.test("close: enqueue refused, dequeue drains then fails, waiting dequeues fail", async () => {
  const g = new ef.Graph();
  const q = ef.fifoQueue(g, ["int32"]);
  const x = ef.placeholder(g, "int32", [], { name: "x" });
  const enq = q.enqueue([x]);
  const [y] = q.dequeue();
  const [many] = q.dequeueMany(2);
  const close = q.close();
  await using s = new ef.Session(g);
  await s.run([], { x: 7 }, [enq]);
  const blocked = s.run(many); // needs 2, has 1
  await s.run([], {}, [close]);
  await assert.rejects(
    () => blocked,
    /closed and has insufficient elements \(requested 2, current size 1\)/,
  );
  await assert.rejects(() => s.run([], { x: 8 }, [enq]), /is closed/);
  assert.equal((await s.run(y)).toArray(), 7);
  await assert.rejects(
    () => s.run(y),
    (e: Error) => e instanceof ef.EdgeflowError && /closed/.test(e.message),
  );
});

Deno.test("closing the session cancels a blocked dequeue", async () => {
  const g = new ef.Graph();
  const q = ef.fifoQueue(g, ["float32"]);
  const [y] = q.dequeue();
  const s = new ef.Session(g);
  const blocked = s.run(y);
  await new Promise((r) => setTimeout(r, 10));
  await s.close();
  await assert.rejects(() => blocked, /session (is|was) closed/);
});

Deno.test("a failing node aborts its step's blocked dequeue", async () => {
  const g = new ef.Graph();
  const q = ef.fifoQueue(g, ["float32"]);
  const [y] = q.dequeue();
  const r = ef.placeholder(g, "int32", [1], { name: "r" });
  const bad = ef.reshape(ef.placeholder(g, "float32", [2], { name: "v" }), r);
  await using s = new ef.Session(g);
  // The reshape fails while the dequeue waits on an empty queue: the step ends with the error.
  await assert.rejects(() => s.run([y, bad], { v: [1, 2], r: [3] }), /reshape/);
  assert.equal((await s.run(q.size())).toArray(), 0);
});

Deno.test("random shuffle queue: a seeded permutation of every element; min_after_dequeue", async () => {
  const order = async () => {
    const g = new ef.Graph();
    const q = ef.randomShuffleQueue(g, ["int32"], { seed: 42, minAfterDequeue: 2 });
    const xs = ef.placeholder(g, "int32", [null], { name: "xs" });
    const enq = q.enqueueMany([xs]);
    const [y] = q.dequeue();
    await using s = new ef.Session(g);
    await s.run([], { xs: Array.from({ length: 10 }, (_, i) => i) }, [enq]);
    const out: number[] = [];
    for (let i = 0; i < 8; i++) out.push((await s.run(y)).toArray() as number);
    // Two elements stay until the queue closes.
    const blocked = s.run(y);
    let done = false;
    blocked.then(() => (done = true), () => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(done, false);
    await s.run([], {}, [q.close()]);
    out.push((await blocked).toArray() as number, (await s.run(y)).toArray() as number);
    return out;
  };
  const a = await order();
  assert.deepEqual([...a].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(a, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(await order(), a);
});

Deno.test("padding FIFO queue pads each batch to its largest shape", async () => {
  const g = new ef.Graph();
  const q = ef.paddingFifoQueue(g, ["float32"], { shapes: [[-1]] });
  const x = ef.placeholder(g, "float32", [null], { name: "x" });
  const enq = q.enqueue([x]);
  const [b] = q.dequeueMany(3);
  await using s = new ef.Session(g);
  for (const v of [[1], [2, 3, 4], [5, 6]]) await s.run([], { x: v }, [enq]);
  assert.deepEqual((await s.run(b)).toArray(), [[1, 0, 0], [2, 3, 4], [5, 6, 0]]);
});
