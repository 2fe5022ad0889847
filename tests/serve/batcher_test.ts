// The dynamic-batching queue with a stand-in model (row-wise: out = 2 * x, or a failure for a
// marked value): requests that come together share a run, each gets its own rows, a bad request
// in a batch fails only itself, and with batching off every request runs alone.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { BatchGain } from "../../examples/serve/batch_gain.ts";
import { Batcher, type RunFn, sliceRows, stackRows } from "../../examples/serve/batcher.ts";
import type { PredictRequest } from "../../examples/serve/request.ts";

const POISON = -999;

function doubler(log: number[]): RunFn {
  return (feeds) => {
    const x = feeds.get("x")!;
    log.push(x.shape[0]);
    if ((x.data as Float32Array).includes(POISON)) {
      return Promise.reject(new ef.EdgeflowError("poisoned value"));
    }
    return Promise.resolve(
      new Map([["y", ef.Tensor.fromNumbers("float32", x.shape, x.toNumbers().map((v) => 2 * v))]]),
    );
  };
}

function request(rows: number[][]): PredictRequest {
  const t = ef.tensor(rows, undefined, "float32");
  return { feeds: new Map([["x", t]]), rows: rows.length };
}

Deno.test("requests arriving together run as one batch and each gets its own rows", async () => {
  const log: number[] = [];
  const b = new Batcher(doubler(log), { enabled: true, maxBatch: 16, windowMs: 5 });
  const inputs = [[[1, 2]], [[3, 4], [5, 6]], [[7, 8]]];
  const out = await Promise.all(inputs.map((r) => b.submit(request(r))));
  assert.deepEqual(log, [4]);
  assert.deepEqual(out.map((m) => m.get("y")!.toArray()), [
    [[2, 4]],
    [[6, 8], [10, 12]],
    [[14, 16]],
  ]);
  assert.equal(b.stats.largestBatch, 3);
});

Deno.test("a batch holds at most maxBatch rows; the rest runs next", async () => {
  const log: number[] = [];
  const b = new Batcher(doubler(log), { enabled: true, maxBatch: 3, windowMs: 5 });
  await Promise.all([1, 2, 3, 4, 5].map((v) => b.submit(request([[v, v]]))));
  assert.deepEqual(log, [3, 2]);
});

Deno.test("a failing request in a batch fails alone; the others get their answers", async () => {
  const log: number[] = [];
  const b = new Batcher(doubler(log), { enabled: true, maxBatch: 16, windowMs: 5 });
  const results = await Promise.allSettled([
    b.submit(request([[1, 1]])),
    b.submit(request([[POISON, 0]])),
    b.submit(request([[2, 2]])),
  ]);
  assert.deepEqual(log, [3, 1, 1, 1]); // the batch, then each alone
  assert.equal(results[0].status, "fulfilled");
  assert.equal(results[1].status, "rejected");
  assert.match(String((results[1] as PromiseRejectedResult).reason), /poisoned/);
  assert.deepEqual(
    (results[2] as PromiseFulfilledResult<Map<string, ef.Tensor>>).value.get("y")!.toArray(),
    [[4, 4]],
  );
  assert.equal(b.stats.fallbacks, 1);
});

Deno.test("outputs that are not rows of the batch make each request run alone", async () => {
  const log: number[] = [];
  // A model whose output sums over the batch: stacking would mix callers' rows.
  const run: RunFn = (feeds) => {
    const x = feeds.get("x")!;
    log.push(x.shape[0]);
    const sum = x.toNumbers().reduce((a, b) => a + b, 0);
    return Promise.resolve(new Map([["y", ef.tensor([sum])]]));
  };
  const b = new Batcher(run, { enabled: true, maxBatch: 16, windowMs: 5 });
  const out = await Promise.all([b.submit(request([[1, 2]])), b.submit(request([[3, 4]]))]);
  assert.deepEqual(out.map((m) => m.get("y")!.toArray()), [[3], [7]]);
  assert.deepEqual(log, [2, 1, 1]);
});

Deno.test("requests of different trailing shapes do not stack", async () => {
  const log: number[] = [];
  const b = new Batcher(doubler(log), { enabled: true, maxBatch: 16, windowMs: 5 });
  const out = await Promise.all([
    b.submit(request([[1, 2]])),
    b.submit(request([[1, 2, 3]])),
    b.submit(request([[5, 6]])),
  ]);
  assert.deepEqual(log.sort(), [1, 2]);
  assert.deepEqual(out[1].get("y")!.toArray(), [[2, 4, 6]]);
  assert.deepEqual(out[2].get("y")!.toArray(), [[10, 12]]);
});

Deno.test("with batching off every request runs alone, one at a time", async () => {
  const log: number[] = [];
  let inFlight = 0, most = 0;
  const inner = doubler(log);
  const run: RunFn = async (feeds) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 2));
    inFlight--;
    return await inner(feeds);
  };
  const b = new Batcher(run, { enabled: false, maxBatch: 16, windowMs: 5 });
  await Promise.all([1, 2, 3].map((v) => b.submit(request([[v, v]]))));
  assert.deepEqual(log, [1, 1, 1]);
  assert.equal(most, 1);
});

Deno.test("stackRows and sliceRows invert each other for every storage kind", () => {
  const cases: ef.Tensor[][] = [
    [ef.tensor([[1, 2]], undefined, "int32"), ef.tensor([[3, 4], [5, 6]], undefined, "int32")],
    [ef.tensor([[1n]]), ef.tensor([[2n]])],
    [ef.tensor([["a", "b"]]), ef.tensor([["c", "d"]])],
    [ef.tensor([[true]]), ef.tensor([[false]])],
  ];
  for (const parts of cases) {
    const all = stackRows(parts);
    assert.equal(all.shape[0], parts.reduce((n, p) => n + p.shape[0], 0));
    let at = 0;
    for (const p of parts) {
      assert.deepEqual(sliceRows(all, at, p.shape[0]).toArray(), p.toArray());
      at += p.shape[0];
    }
  }
});

Deno.test("BatchGain: batches while batched rows are cheaper, else one request with probes", () => {
  const cheap = new BatchGain(1.1, 4);
  assert.equal(cheap.cap(8), 1); // no single run measured yet
  cheap.record(1, 500); // the first run at a row count is not counted (first allocations)
  assert.equal(cheap.cap(8), 1);
  cheap.record(1, 10);
  assert.equal(cheap.cap(8), 8); // no batched run measured yet
  cheap.record(4, 900);
  cheap.record(4, 12); // 3 ms a row batched, 10 alone
  assert.ok(cheap.gain! > 3);
  assert.deepEqual(Array.from({ length: 4 }, () => cheap.cap(8)), [1, 8, 8, 8]);

  const dear = new BatchGain(1.1, 4);
  dear.record(1, 10), dear.record(1, 10);
  dear.record(4, 48), dear.record(4, 48); // 12 ms a row batched: worse than alone
  assert.deepEqual(Array.from({ length: 8 }, () => dear.cap(8)), [1, 1, 1, 8, 1, 1, 1, 8]);
  // Probes that find batches cheap again restore them.
  for (let i = 0; i < 10; i++) dear.record(4, 8);
  assert.equal(dear.cap(8), 8);
});

Deno.test("adaptive batching runs requests alone where batched rows cost more", async () => {
  const log: number[] = [];
  // Rows cost 1 ms alone and 10 ms each in a batch (a model whose batches thrash the caches).
  const run: RunFn = async (feeds) => {
    const rows = feeds.get("x")!.shape[0];
    log.push(rows);
    await new Promise((r) => setTimeout(r, rows === 1 ? 1 : 10 * rows));
    return new Map([["y", feeds.get("x")!]]);
  };
  const b = new Batcher(run, { enabled: true, maxBatch: 4, windowMs: 5, adaptive: true });
  for (let round = 0; round < 8; round++) {
    const out = await Promise.all([1, 2, 3, 4].map((v) => b.submit(request([[v, v]]))));
    assert.deepEqual(out.map((m) => m.get("y")!.toArray()), [[[1, 1]], [[2, 2]], [[3, 3]], [[
      4,
      4,
    ]]]);
  }
  assert.ok(b.stats.gain! < 1, `gain ${b.stats.gain}`);
  // Singles first (their cost is unknown), then batches (theirs is), then mostly singles.
  assert.ok(log.some((r) => r > 1), `runs: ${log}`);
  const later = log.slice(-12);
  assert.ok(later.filter((r) => r === 1).length >= 9, `runs: ${log}`);
});
