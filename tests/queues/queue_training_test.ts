// An input pipeline feeding training (section 4.6 of the 2015 paper): a QueueRunner's producer
// loops enqueue batches of a linear function's samples while training steps dequeue them and
// take gradient steps, concurrently on one session; the producers stop when the queue closes.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

Deno.test("linear regression trained from a queue fed by a QueueRunner", async () => {
  const g = new ef.Graph();
  const q = ef.fifoQueue(g, ["float32", "float32"], { capacity: 8, shapes: [[2], []] });
  // The producer: random x in [-1, 1)², y = 3 x0 - 2 x1 + 0.5, enqueued 4 at a time.
  const xs = ef.placeholder(g, "float32", [4, 2], { name: "xs" });
  const ys = ef.placeholder(g, "float32", [4], { name: "ys" });
  const enqueue = q.enqueueMany([xs, ys]);
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const batch = () => {
    const x = Array.from({ length: 4 }, () => [rand(), rand()]);
    return { xs: x, ys: x.map(([a, b]) => 3 * a - 2 * b + 0.5) };
  };
  // The model, trained on batches of 8 dequeued elements.
  const w = new ef.Variable([0, 0], { graph: g, name: "w", dtype: "float32" });
  const b = new ef.Variable(0, { graph: g, name: "b", dtype: "float32" });
  const [bx, by] = q.dequeueMany(8);
  const pred = ef.add(ef.sum(ef.mul(bx, w.read()), 1), b.read());
  const err = ef.sub(pred, by);
  const loss = ef.mean(ef.mul(err, err), 0);
  const [gw, gb] = ef.gradients(loss, [w, b]);
  const train = ef.group([w.assignSub(ef.mul(gw!, 0.3)), b.assignSub(ef.mul(gb!, 0.3))]);
  await using s = new ef.Session(g);
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  const runner = new ef.QueueRunner([enqueue, enqueue], batch);
  runner.start(s);
  let last = Infinity;
  for (let step = 0; step < 150; step++) {
    [last] = [(await s.run([loss], {}, [train]))[0].toArray() as number];
  }
  await s.run([], {}, [q.close(true)]);
  runner.stop();
  await runner.join();
  assert.ok(last < 1e-3, `loss ${last}`);
  const [tw, tb] = await s.run([w.read(), b.read()]);
  (tw.toArray() as number[]).forEach((v, i) =>
    assert.ok(Math.abs(v - [3, -2][i]) < 0.05, `w ${tw}`)
  );
  assert.ok(Math.abs((tb.toArray() as number) - 0.5) < 0.05, `b ${tb}`);
});
