// Queues: ordering (FIFO, padding, seeded shuffle with min_after_dequeue), close and
// cancellation (queue close, step abort, session close), concurrent runs on one session, bad
// input, GraphDef round trips. Every wait is raced against a timeout: a hang fails the test.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const LIMIT_MS = 5000;

/** `p`, or a failure after LIMIT_MS: no test may hang on a queue. */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: still waiting after ${LIMIT_MS} ms`)),
      LIMIT_MS,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Whether `p` is still pending after a few turns of the event loop. */
async function stillPending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 30));
  return !settled;
}

function fifo(capacity = -1, device?: ef.DeviceType) {
  const g = new ef.Graph();
  const q = new ef.FIFOQueue({
    graph: g,
    dtypes: ["float32", "int32"],
    shapes: [[2], []],
    capacity,
  });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const y = ef.placeholder(g, "int32", [], { name: "y" });
  const xs = ef.placeholder(g, "float32", [null, 2], { name: "xs" });
  const ys = ef.placeholder(g, "int32", [null], { name: "ys" });
  const enq = q.enqueue([x, y]);
  const enqMany = q.enqueueMany([xs, ys]);
  const [dx, dy] = q.dequeue();
  const [bx, by] = q.dequeueMany(3);
  // A consumer on the session's own device (WASM): values cross from the host queue.
  const doubled = ef.mul(bx, 2);
  const s = new ef.Session(g, device ? { device } : {});
  return { g, q, s, x, y, xs, ys, enq, enqMany, dx, dy, bx, by, doubled, size: q.size() };
}

Deno.test("FIFO: elements come out in order; enqueue_many slices; dequeue_many stacks", async () => {
  const t = fifo();
  await using _ = t.s;
  for (let i = 0; i < 2; i++) await t.s.run([], [[t.x, [i, -i]], [t.y, i]], [t.enq]);
  await t.s.run([], [[t.xs, [[2, 3], [4, 5], [6, 7]]], [t.ys, [2, 3, 4]]], [t.enqMany]);
  assert.equal((await t.s.run(t.size)).toArray(), 5);
  const [a, b] = await t.s.run([t.dx, t.dy]);
  assert.deepEqual([a.toArray(), b.toArray()], [[0, -0], 0]);
  const [bx, by, d] = await t.s.run([t.bx, t.by, t.doubled]);
  assert.deepEqual(bx.shape, [3, 2]);
  assert.deepEqual(bx.toArray(), [[1, -1], [2, 3], [4, 5]]);
  assert.deepEqual(by.toArray(), [1, 2, 3]);
  assert.deepEqual(d.toArray(), [[2, -2], [4, 6], [8, 10]]);
  assert.equal((await t.s.run(t.size)).toArray(), 1);
  // Static shapes flow from the queue's declaration.
  assert.deepEqual(t.dx.shape, [2]);
  assert.deepEqual(t.bx.shape, [3, 2]);
});

Deno.test("PaddingFIFOQueue pads each batch to its longest element with zeros", async () => {
  const g = new ef.Graph();
  const q = new ef.PaddingFIFOQueue({ graph: g, dtypes: ["int32"], shapes: [[-1, 2]] });
  const v = ef.placeholder(g, "int32", [null, 2], { name: "v" });
  const enq = q.enqueue([v]);
  const [batch] = q.dequeueMany(2);
  const [one] = q.dequeue();
  assert.deepEqual(batch.shape, [2, -1, 2]);
  await using s = new ef.Session(g);
  for (const rows of [[[1, 2]], [[3, 4], [5, 6], [7, 8]], [[9, 9], [9, 9]]]) {
    await s.run([], [[v, rows]], [enq]);
  }
  const out = await s.run(batch);
  assert.deepEqual(out.shape, [2, 3, 2]);
  assert.deepEqual(out.toArray(), [[[1, 2], [0, 0], [0, 0]], [[3, 4], [5, 6], [7, 8]]]);
  assert.deepEqual((await s.run(one)).toArray(), [[9, 9], [9, 9]]);
  // A FIFO queue refuses unknown dims; a padding queue needs shapes.
  assert.throws(
    () => new ef.FIFOQueue({ graph: g, dtypes: ["int32"], shapes: [[-1]] }),
    /fully defined shapes/,
  );
  assert.throws(() => new ef.PaddingFIFOQueue({ graph: g, dtypes: ["int32"] }), /needs one shape/);
});

async function shuffled(seed: number, n: number): Promise<number[]> {
  const g = new ef.Graph();
  const q = new ef.RandomShuffleQueue({ graph: g, dtypes: ["int32"], shapes: [[]], seed });
  const v = ef.placeholder(g, "int32", [null], { name: "v" });
  const enq = q.enqueueMany([v]);
  const [all] = q.dequeueMany(n);
  await using s = new ef.Session(g);
  await s.run([], [[v, Array.from({ length: n }, (_, i) => i)]], [enq]);
  return (await s.run(all)).toArray() as number[];
}

Deno.test("RandomShuffleQueue: a seeded permutation, the same for the same seed", async () => {
  const a = await shuffled(7, 20), b = await shuffled(7, 20), c = await shuffled(8, 20);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  assert.notDeepEqual(a, Array.from({ length: 20 }, (_, i) => i));
});

Deno.test("RandomShuffleQueue keeps min_after_dequeue back until it closes", async () => {
  const g = new ef.Graph();
  const q = new ef.RandomShuffleQueue({
    graph: g,
    dtypes: ["int32"],
    shapes: [[]],
    capacity: 10,
    minAfterDequeue: 2,
    seed: 1,
  });
  const v = ef.placeholder(g, "int32", [null], { name: "v" });
  const enq = q.enqueueMany([v]);
  const [one] = q.dequeue();
  const close = q.close();
  await using s = new ef.Session(g);
  await s.run([], [[v, [10, 11, 12]]], [enq]);
  const first = await within(s.run(one), "first dequeue");
  assert.ok([10, 11, 12].includes(first.toArray() as number));
  const second = s.run(one);
  assert.ok(await stillPending(second), "a dequeue waits while only min_after_dequeue remain");
  await s.run([], [], [close]);
  const rest = [await within(second, "dequeue after close"), await s.run(one)].map((t) =>
    t.toArray() as number
  );
  assert.deepEqual([first.toArray() as number, ...rest].sort(), [10, 11, 12]);
  await assert.rejects(s.run(one), ef.QueueOutOfRangeError);
  assert.throws(
    () =>
      new ef.RandomShuffleQueue({ graph: g, dtypes: ["int32"], capacity: 2, minAfterDequeue: 2 }),
    /less than capacity/,
  );
});

Deno.test("close: a blocked dequeue fails with OutOfRange; enqueues after close are cancelled", async () => {
  const t = fifo(2);
  await using _ = t.s;
  const close = t.q.close();
  const waiting = t.s.run(t.dx);
  assert.ok(await stillPending(waiting));
  await t.s.run([], [[t.x, [1, 2]], [t.y, 3]], [t.enq]);
  assert.deepEqual((await within(waiting, "dequeue")).toArray(), [1, 2]);
  // dequeue_many waits for all three; the close leaves it short: OutOfRange, elements restored.
  await t.s.run([], [[t.x, [5, 6]], [t.y, 7]], [t.enq]);
  const many = t.s.run(t.bx);
  assert.ok(await stillPending(many));
  await t.s.run([], [], [close]);
  await assert.rejects(within(many, "dequeue_many"), (e: unknown) => {
    assert.ok(e instanceof ef.QueueOutOfRangeError);
    assert.match(
      e.message,
      /is closed and has insufficient elements \(requested 3, current size 1\)/,
    );
    assert.equal(e.op, "QueueDequeueManyV2");
    return true;
  });
  assert.deepEqual((await t.s.run(t.dx)).toArray(), [5, 6], "the element went back");
  await assert.rejects(t.s.run(t.dx), ef.QueueOutOfRangeError);
  await assert.rejects(
    t.s.run([], [[t.x, [1, 2]], [t.y, 3]], [t.enq]),
    (e: unknown) => e instanceof ef.QueueCancelledError && /is closed/.test(e.message),
  );
});

Deno.test("close with cancel_pending_enqueues fails an enqueue blocked on a full queue", async () => {
  const t = fifo(1);
  await using _ = t.s;
  await t.s.run([], [[t.x, [1, 2]], [t.y, 3]], [t.enq]);
  const blocked = t.s.run([], [[t.x, [3, 4]], [t.y, 5]], [t.enq]);
  assert.ok(await stillPending(blocked), "a full queue blocks the enqueue");
  // A plain close lets a pending enqueue finish once room appears.
  await t.s.run([], [], [t.q.close()]);
  assert.ok(await stillPending(blocked));
  assert.deepEqual((await t.s.run(t.dx)).toArray(), [1, 2]);
  await within(blocked, "enqueue after a dequeue");
  assert.deepEqual((await t.s.run(t.dx)).toArray(), [3, 4]);

  const u = fifo(1);
  await using __ = u.s;
  await u.s.run([], [[u.x, [1, 2]], [u.y, 3]], [u.enq]);
  const stuck = u.s.run([], [[u.x, [3, 4]], [u.y, 5]], [u.enq]);
  assert.ok(await stillPending(stuck));
  await u.s.run([], [], [u.q.close({ cancelPendingEnqueues: true })]);
  await assert.rejects(within(stuck, "cancelled enqueue"), ef.QueueCancelledError);
});

Deno.test("a failing node aborts its step: a dequeue waiting in it is cancelled", async () => {
  const t = fifo();
  await using _ = t.s;
  const idx = ef.placeholder(t.g, "int32", [], { name: "idx" });
  const bad = ef.gather(ef.tensor([1, 2, 3]), idx);
  // The dequeue waits (the queue is empty) while the gather refuses its index.
  const run = t.s.run([t.dx, bad], [[idx, 7]]);
  await assert.rejects(within(run, "aborted step"), /indices\[\] = 7 is not in \[0, 3\)/);
  // The cancelled dequeue took nothing: a later enqueue reaches a later dequeue.
  await t.s.run([], [[t.x, [8, 9]], [t.y, 1]], [t.enq]);
  assert.deepEqual((await t.s.run(t.dx)).toArray(), [8, 9]);
});

Deno.test("closing the session cancels runs waiting on a queue", async () => {
  const t = fifo();
  const waiting = t.s.run(t.dx);
  const enqueue = t.s.run([], [[t.xs, [[1, 1]]], [t.ys, [1]]], [t.enqMany]);
  await enqueue;
  const second = t.s.run(t.bx);
  assert.ok(await stillPending(second));
  await within(t.s.close(), "session close");
  assert.deepEqual((await waiting).toArray(), [1, 1]);
  await assert.rejects(within(second, "run after close"), /session was closed/);
});

Deno.test("concurrent runs on one session: consumers block while producers enqueue", async () => {
  for (const device of ["WASM", "REF", "TPU"] as const) {
    const t = fifo(3, device);
    await using _ = t.s;
    // Four consumers of three elements each, in flight before any producer run.
    const consumers = Array.from({ length: 4 }, () => t.s.run([t.bx, t.by, t.doubled]));
    const producers = Array.from(
      { length: 12 },
      (_, i) => t.s.run([], [[t.x, [i, i]], [t.y, i]], [t.enq]),
    );
    await within(Promise.all(producers), `${device} producers`);
    const got = await within(Promise.all(consumers), `${device} consumers`);
    const ys = got.flatMap(([, by]) => by.toArray() as number[]);
    // Each element reached exactly one consumer, in order within each batch.
    assert.deepEqual([...ys].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
    for (const [bx, by, d] of got) {
      const y = by.toArray() as number[];
      assert.deepEqual(y, [...y].sort((a, b) => a - b));
      assert.deepEqual(bx.toArray(), y.map((v) => [v, v]));
      assert.deepEqual(d.toArray(), y.map((v) => [2 * v, 2 * v]));
    }
    assert.equal((await t.s.run(t.size)).toArray(), 0);
  }
});

Deno.test("independent runs in flight together give each its own results", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null], { name: "x" });
  const y = ef.sum(ef.mul(x, x));
  await using s = new ef.Session(g);
  const runs = Array.from({ length: 16 }, (_, i) => s.run(y, [[x, [i, 1, 2]]]));
  const out = await within(Promise.all(runs), "concurrent runs");
  out.forEach((t, i) => assert.equal(t.toArray(), i * i + 5));
  assert.equal(s.stats.plansBuilt, 1, "concurrent first runs share one build");
});

Deno.test("bad input: dtypes, shapes and shared declarations are refused with the node named", async () => {
  const g = new ef.Graph();
  const q = new ef.FIFOQueue({ graph: g, dtypes: ["float32"], shapes: [[2]], name: "q" });
  assert.throws(
    () => q.enqueue([ef.tensor([1, 2, 3], [3], "float32")]),
    /component 0 has shape \[3\]/,
  );
  assert.throws(() => q.enqueue([ef.tensor([1, 2], [2], "int32")]), /enqueues \(int32\)/);
  assert.throws(() => q.enqueueMany([ef.tensor(1, [], "float32")]), /rank/);
  assert.throws(
    () => new ef.FIFOQueue({ graph: g, dtypes: ["float32"], capacity: -2 }),
    /capacity/,
  );
  assert.throws(() => new ef.FIFOQueue({ graph: g, dtypes: [] }), /at least one dtype/);
  assert.throws(() => q.dequeueMany(-1), /at least 0/);
  const p = ef.placeholder(g, "float32", null, { name: "p" });
  const enq = q.enqueue([p]);
  const n = ef.placeholder(g, "int32", null, { name: "n" });
  const [many] = q.dequeueMany(n);
  // Another queue under the same shared name with other component types.
  const other = new ef.FIFOQueue({ graph: g, dtypes: ["int32"], sharedName: "q", name: "q2" });
  await using s = new ef.Session(g);
  await assert.rejects(s.run([], [[p, [1, 2, 3]]], [enq]), (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.match(
      e.message,
      /shape mismatch in component 0 of FIFOQueue 'q': expected \[2\], got \[3\]/,
    );
    assert.equal(e.op, "QueueEnqueueV2");
    return true;
  });
  await assert.rejects(s.run(many, [[n, [2]]]), /n must be a scalar/);
  await s.run([], [[p, [1, 2]]], [enq]);
  await assert.rejects(s.run(other.size()), /shared queue 'q' has component types float32/);
  // Dequeue many from a queue without shapes is TensorFlow's InvalidArgument.
  const loose = new ef.FIFOQueue({ graph: g, dtypes: ["float32"], name: "loose" });
  await assert.rejects(
    s.run(loose.dequeueMany(1)[0]),
    /requires the components to have specified shapes/,
  );
});

Deno.test("a queue graph survives GraphDef export and import", async () => {
  const g = new ef.Graph();
  const q = new ef.FIFOQueue({
    graph: g,
    dtypes: ["float32", "int32"],
    shapes: [[], []],
    name: "q",
  });
  q.enqueue([ef.tensor(1.5, [], "float32"), ef.tensor(4, [], "int32")], { name: "enq" });
  q.dequeue({ name: "deq" });
  const back = ef.fromGraphDef(ef.toGraphDef(g));
  await using s = new ef.Session(back);
  await s.run([], [], ["enq"]);
  const [a, b] = await s.run(["deq:0", "deq:1"]);
  assert.deepEqual([a.toArray(), b.toArray(), b.dtype], [1.5, 4, "int32"]);
});

Deno.test("the reference refuses what would block (it has no scheduler)", () => {
  const ctx = new ef.MapHostContext() as ef.MapHostContext & { queues: unknown };
  assert.throws(
    () => ef.getOp("QueueSizeV2").reference([new ef.Tensor("resource", [], ["q"])], {}, ctx),
    /queues need a session/,
  );
});

Deno.test("QueueRunner: a stop request ends producers blocked on a full queue", async () => {
  const g = new ef.Graph();
  const q = new ef.FIFOQueue({ graph: g, dtypes: ["int32"], shapes: [[]], capacity: 2 });
  const counter = ef.placeholder(g, "int32", [], { name: "i" });
  const runner = new ef.train.QueueRunner({
    queue: q,
    enqueueOps: [q.enqueue([counter]), q.enqueue([ef.mul(counter, -1)])],
    feed: (step, loop) => [[counter, loop === 0 ? step + 1 : step + 100]],
  });
  const [one] = q.dequeue();
  await using s = new ef.Session(g);
  const coord = new ef.train.Coordinator();
  const loops = runner.start(s, coord);
  const got: number[] = [];
  for (let i = 0; i < 10; i++) got.push((await within(s.run(one), "dequeue")).toArray() as number);
  coord.requestStop();
  await within(coord.join(loops), "runner join");
  // Each producer's elements arrive in its own order.
  const first = got.filter((v) => v > 0), second = got.filter((v) => v <= -100);
  assert.deepEqual(first, first.map((_, i) => i + 1));
  assert.deepEqual(second, second.map((_, i) => -100 - i));
  assert.equal(first.length + second.length, 10);
});

Deno.test("QueueRunner: a producer's error stops everything and join throws it", async () => {
  const g = new ef.Graph();
  const q = new ef.FIFOQueue({ graph: g, dtypes: ["float32"], shapes: [[2]] });
  const v = ef.placeholder(g, "float32", null, { name: "v" });
  const runner = new ef.train.QueueRunner({
    queue: q,
    enqueueOps: [q.enqueue([v])],
    feed: (step) => [[v, step < 3 ? [step, step] : [1, 2, 3]]],
  });
  const [one] = q.dequeue();
  await using s = new ef.Session(g);
  const coord = new ef.train.Coordinator();
  const loops = runner.start(s, coord);
  for (let i = 0; i < 3; i++) assert.deepEqual((await s.run(one)).toArray(), [i, i]);
  await assert.rejects(within(coord.join(loops), "join"), /shape mismatch in component 0/);
  assert.ok(coord.shouldStop());
  // The runner's stop closed the queue: the consumer sees OutOfRange, not a hang.
  await assert.rejects(within(s.run(one), "dequeue after stop"), ef.QueueOutOfRangeError);
});

Deno.test("a GraphDef as TensorFlow writes it (JSON mapping) imports and runs its queue", async () => {
  const types = { list: { type: ["DT_FLOAT", "DT_INT32"] } };
  const graphDef = {
    node: [
      {
        name: "q",
        op: "FIFOQueueV2",
        attr: {
          component_types: types,
          shapes: { list: { shape: [{ dim: [{ size: "2" }] }, {}] } },
          capacity: { i: "10" },
          container: { s: "" },
          shared_name: { s: "" },
        },
      },
      {
        name: "v",
        op: "Const",
        attr: {
          dtype: { type: "DT_FLOAT" },
          value: {
            tensor: {
              dtype: "DT_FLOAT",
              tensorShape: { dim: [{ size: "2" }] },
              floatVal: [1.5, 2.5],
            },
          },
        },
      },
      {
        name: "l",
        op: "Const",
        attr: {
          dtype: { type: "DT_INT32" },
          value: { tensor: { dtype: "DT_INT32", tensorShape: {}, intVal: [7] } },
        },
      },
      {
        name: "enq",
        op: "QueueEnqueueV2",
        input: ["q", "v", "l"],
        attr: { Tcomponents: types, timeout_ms: { i: "-1" } },
      },
      {
        name: "deq",
        op: "QueueDequeueV2",
        input: ["q"],
        attr: { component_types: types, timeout_ms: { i: "-1" } },
      },
      { name: "size", op: "QueueSizeV2", input: ["q"] },
    ],
  };
  const g = ef.fromGraphDef(graphDef as ef.GraphDefJson);
  await using s = new ef.Session(g);
  await s.run([], [], ["enq"]);
  await s.run([], [], ["enq"]);
  assert.equal((await s.run("size:0")).toArray(), 2);
  const [a, b] = await s.run(["deq:0", "deq:1"]);
  assert.deepEqual([a.toArray(), b.toArray()], [[1.5, 2.5], 7]);
  assert.deepEqual(g.node("deq").outputs[0].shape, [2]);
});
