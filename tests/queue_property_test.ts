// Random sequences of queue operations, valid and invalid, run through a session (the queue
// kernels) against a plain array model of TensorFlow's FIFOQueue: each result, each refusal and
// its kind (Cancelled after close, OutOfRange on a closed queue short of elements, a shape
// mismatch that leaves the queue unchanged) and the size after every step. Operations the model
// says would block are left out: tests/queue_test.ts covers waiting and its cancellation.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../mod.ts";
import { fcParams } from "./op_cases.ts";

type Step =
  | { kind: "enqueue"; v: number }
  | { kind: "enqueueMany"; n: number; v: number }
  | { kind: "dequeue" }
  | { kind: "dequeueMany"; n: number }
  | { kind: "badShape" }
  | { kind: "close" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("enqueue" as const), v: fc.integer({ min: -50, max: 50 }) }),
  fc.record({
    kind: fc.constant("enqueueMany" as const),
    n: fc.integer({ min: 0, max: 4 }),
    v: fc.integer({ min: -50, max: 50 }),
  }),
  fc.record({ kind: fc.constant("dequeue" as const) }),
  fc.record({ kind: fc.constant("dequeueMany" as const), n: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant("badShape" as const) }),
  fc.constant({ kind: "close" as const }),
);

function build(capacity: number) {
  const g = new ef.Graph();
  const q = new ef.FIFOQueue({
    graph: g,
    dtypes: ["float32", "int32"],
    shapes: [[2], []],
    capacity,
  });
  const x = ef.placeholder(g, "float32", null, { name: "x" });
  const y = ef.placeholder(g, "int32", null, { name: "y" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  return {
    g,
    x,
    y,
    n,
    enq: q.enqueue([x, y]),
    enqMany: q.enqueueMany([x, y]),
    deq: q.dequeue(),
    deqMany: q.dequeueMany(n),
    size: q.size(),
    close: q.close(),
  };
}

/** An element is [v, -v] with label v. */
const element = (v: number): [number[], number] => [[v, -v], v];

Deno.test("random FIFO queue programs match the array model", async () => {
  let ran = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(-1, 1, 2, 5),
      fc.array(step, { maxLength: 14 }),
      async (capacity, steps) => {
        const t = build(capacity);
        await using s = new ef.Session(t.g, { device: "REF" });
        const model: number[] = [];
        let closed = false;
        const cap = capacity < 0 ? Infinity : capacity;
        for (const st of steps) {
          if (st.kind === "enqueue" || st.kind === "enqueueMany") {
            const many = st.kind === "enqueueMany";
            const vs = many ? Array.from({ length: st.n }, (_, i) => st.v + i) : [st.v];
            // Blocks when there is no room: left out (the tests in queue_test.ts wait).
            if (!closed && model.length + vs.length > cap) continue;
            const feeds: ef.Feeds = many
              ? [
                [t.x, ef.tensor(vs.flatMap((v) => element(v)[0]), [vs.length, 2], "float32")],
                [t.y, ef.tensor(vs, [vs.length], "int32")],
              ]
              : [[t.x, element(st.v)[0]], [t.y, st.v]];
            const run = s.run([], feeds, [many ? t.enqMany : t.enq]);
            if (closed) await assert.rejects(run, ef.QueueCancelledError);
            else {
              await run;
              model.push(...vs);
            }
          } else if (st.kind === "dequeue" || st.kind === "dequeueMany") {
            const many = st.kind === "dequeueMany";
            const want = many ? st.n : 1;
            if (model.length < want && !closed) continue;
            const run = many ? s.run(t.deqMany, [[t.n, st.n]]) : s.run(t.deq);
            if (model.length < want) {
              await assert.rejects(run, ef.QueueOutOfRangeError);
              continue;
            }
            const [x, y] = await run;
            const taken = model.splice(0, want);
            assert.deepEqual(y.toArray(), many ? taken : taken[0]);
            assert.deepEqual(
              x.toArray(),
              many ? taken.map((v) => element(v)[0]) : element(taken[0])[0],
            );
          } else if (st.kind === "badShape") {
            await assert.rejects(
              s.run([], [[t.x, [1, 2, 3]], [t.y, 0]], [t.enq]),
              closed ? /shape mismatch|is closed/ : /shape mismatch in component 0/,
            );
          } else {
            await s.run([], [], [t.close]);
            closed = true;
          }
          assert.equal((await s.run(t.size)).toArray(), model.length);
          ran++;
        }
      },
    ),
    fcParams(30),
  );
  assert.ok(ran > 30, `only ${ran} steps ran`);
  console.log(`${ran} queue operations compared with the model`);
});
