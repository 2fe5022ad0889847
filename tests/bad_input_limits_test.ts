// Size bounds: constant folding and CSE cap their work before doing any, and REF and the TPU refuse
// allocations past their memory limit with an EdgeflowError naming the node, op and bytes asked.
// No test here is timed: work is counted through spies on the ops' references and the data.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { defaultMemoryLimit } from "../core/memory_limit.ts";
import type { OpDef } from "../core/op.ts";
import { eliminateCommonSubexpressions } from "../core/passes/cse.ts";
import { runPasses } from "../core/passes/pipeline.ts";
import { prune } from "../core/passes/prune.ts";
import { topologicalOrder } from "../core/passes/topo.ts";

/** Runs `fn` with `op.reference` counting its calls; returns the count. */
async function countReferenceCalls(op: OpDef, fn: () => unknown): Promise<number> {
  const original = op.reference;
  let calls = 0;
  op.reference = (...args) => {
    calls++;
    return original(...args);
  };
  try {
    await fn();
  } finally {
    op.reference = original;
  }
  return calls;
}

function opsReached(fetches: readonly ef.Output[]): string[] {
  return topologicalOrder(fetches.map((o) => o.node)).map((n) => n.op.name);
}

Deno.test("constant folding leaves fill of [2^31] and range(0, 2^31-1) unfolded, computing nothing", async () => {
  const g = new ef.Graph();
  const big = g.asDefault(() => ef.fill([2 ** 31], 1.5, { index_type: "int64" }));
  const long = g.asDefault(() => ef.range(0, 2 ** 31 - 1));
  const small = g.asDefault(() => ef.fill([3], 2));
  for (const [op, out, kept] of [[ef.Fill, big, "Fill"], [ef.Range, long, "Range"]] as const) {
    let folded;
    const calls = await countReferenceCalls(op, () => {
      folded = runPasses(prune(g, [out], [], []));
    });
    assert.equal(calls, 0, `${kept} was computed at plan time`);
    assert.equal(opsReached(folded!.fetches).at(-1), kept, `${kept} was folded`);
  }
  // Under the cap, folding still happens.
  const calls = await countReferenceCalls(ef.Fill, () => {
    assert.deepEqual(opsReached(runPasses(prune(g, [small], [], [])).fetches), ["Const"]);
  });
  assert.equal(calls, 1);
});

Deno.test("an int32 literal past int32's range is refused, not wrapped to a negative dim", () => {
  const g = new ef.Graph();
  assert.throws(
    () => g.asDefault(() => ef.fill([2 ** 31], 1)),
    (e: unknown) =>
      e instanceof ef.EdgeflowError && /op Fill: input 'dims'/.test(e.message) &&
      /2147483648 .* is not a whole number within int32's range/.test(e.message),
  );
});

Deno.test("fill of [2^40] is an EdgeflowError naming the node at run time, not a RangeError", async () => {
  const g = new ef.Graph();
  const huge = g.asDefault(() => ef.fill([2 ** 40], 1, { name: "huge", index_type: "int64" }));
  for (const device of ["REF", "TPU"]) {
    await using s = new ef.Session(g, { device });
    const calls = await countReferenceCalls(ef.Fill, async () => {
      await assert.rejects(() => s.run(huge), (e: unknown) => {
        assert.ok(e instanceof ef.EdgeflowError, `${device}: ${e}`);
        assert.equal(e.node, "huge");
        assert.equal(e.op, "Fill");
        assert.match(e.message, /asks 4398046511104 bytes \(4\.00 TiB\)/);
        return true;
      });
    });
    assert.equal(calls, 0, `${device} computed the fill before refusing it`);
  }
});

Deno.test("CSE keys large constants by identity and reads none of their bytes", () => {
  const g = new ef.Graph();
  let reads = 0;
  // 2^20 + 1 floats: past MAX_HASHED_BYTES. The proxy counts every read of the data after this.
  const data = new Float32Array(2 ** 20 + 1);
  const spy = new Proxy(data, {
    get(target, key) {
      reads++;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const large = new ef.Tensor("float32", [data.length], spy);
  const twin = new ef.Tensor("float32", [data.length], new Float32Array(data.length));
  const [a, b, c] = g.asDefault(() => [ef.constant(large), ef.constant(large), ef.constant(twin)]);
  const [s1, s2] = g.asDefault(() => [ef.constant([1, 2]), ef.constant([1, 2])]);
  const out = g.asDefault(() => [ef.concat([a, b, c], 0), ef.add(s1, s2)]);
  reads = 0;
  const result = eliminateCommonSubexpressions({
    graph: g,
    nodes: topologicalOrder(out.map((o) => o.node)),
  });
  assert.equal(reads, 0, "CSE read the large constant's data");
  const [sum, pair] = out.map(result.map);
  const inputs = sum.node.inputs.map((o) => o.node.name);
  assert.equal(inputs[0], inputs[1], "the same large tensor is one constant");
  assert.notEqual(inputs[0], inputs[2], "equal large tensors that are separate objects stay apart");
  assert.equal(pair.node.inputs[0], pair.node.inputs[1], "small equal constants merge by value");
});

Deno.test("REF and TPU refuse a fed Fill past memoryLimit, naming node, op and bytes", async () => {
  const g = new ef.Graph();
  const dims = ef.placeholder(g, "int64", [1], { name: "dims" });
  const filled = ef.fill(dims, 1, { name: "filled" });
  for (const device of ["REF", "TPU"]) {
    await using s = new ef.Session(g, {
      device,
      deviceOptions: { [device]: { memoryLimit: 2 ** 30 } },
    });
    const calls = await countReferenceCalls(ef.Fill, async () => {
      await assert.rejects(() => s.run(filled, { dims: [2 ** 31] }), (e: unknown) => {
        assert.ok(e instanceof ef.EdgeflowError, `${device}: ${e}`);
        assert.equal(e.node, "filled");
        assert.equal(e.op, "Fill");
        assert.match(e.message, /float32\[2147483648\]\) asks 8589934592 bytes \(8\.00 GiB\)/);
        assert.match(e.message, /memoryLimit of 1073741824 bytes \(1\.00 GiB\)/);
        return true;
      });
    });
    assert.equal(calls, 0);
    // Within the limit it runs.
    assert.deepEqual((await s.run(filled, { dims: [3] })).toArray(), [1, 1, 1]);
  }
});

Deno.test("the default memory limit is a share of the host's memory, below the TPU's HBM there", () => {
  const total = Deno.systemMemoryInfo().total;
  assert.equal(defaultMemoryLimit(), Math.floor(total / 4));
  const tpu = new ef.TpuDevice();
  assert.equal(tpu.memory().capacity, Math.min(32 * 2 ** 30, Math.floor(total / 4)));
});

Deno.test("REF charges shared storage once: a reshape or identity of a buffer adds no bytes", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [1024], { name: "x" });
  const y = ef.identity(ef.reshape(x, [32, 32]));
  // 4 KiB is charged once, not three times (the check before a kernel runs counts 4 KiB more).
  await using s = new ef.Session(g, {
    device: "REF",
    deviceOptions: { REF: { memoryLimit: 9000 } },
  });
  const out = await s.run(y, { x: new ef.Tensor("float32", [1024], new Float32Array(1024)) });
  assert.deepEqual(out.shape, [32, 32]);
});
