// Bad values and arguments at the public API: each is an EdgeflowError naming the argument, never
// a raw TypeError or a value read as NaN or 0.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

/** Asserts `fn` throws an EdgeflowError whose message matches every pattern. */
function refuses(fn: () => unknown, ...patterns: RegExp[]): ef.EdgeflowError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ef.EdgeflowError, `expected an EdgeflowError, got ${error}`);
  for (const p of patterns) assert.match(error.message, p);
  return error;
}

async function refusesAsync(fn: () => Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError, `expected an EdgeflowError, got ${e}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

Deno.test("tensor(): a dtype in the shape's place names the shape argument", () => {
  refuses(() => ef.tensor([1, 2], "int32" as never), /shape/, /'int32'/, /third argument/);
});

Deno.test("tensor(): strings, null, undefined and objects where numbers belong are refused", () => {
  refuses(() => ef.tensor(["abc"] as never, undefined, "float32"), /element 0/, /'abc'/);
  refuses(() => ef.tensor([1, null] as never), /element 1 is null/);
  refuses(() => ef.tensor(undefined as never), /the value is undefined/);
  refuses(() => ef.tensor([[1], [{}]] as never), /element 1 is an object/);
  refuses(() => ef.tensor([true, false], undefined, "float32"), /boolean.*expected a number/);
  refuses(() => ef.tensor([1], undefined, "string"), /expected a string/);
  refuses(() => ef.tensor([1], undefined, "floaty" as never), /dtype/, /'floaty'/);
  refuses(() => ef.tensor([1, 2, 3], [2]), /shape \[2\] needs 2 values, got 3/);
});

Deno.test("tensor(): what belongs is taken (booleans for bool, bigints for int64, NaN)", () => {
  assert.deepEqual(ef.tensor([true, 0, 2], undefined, "bool").toArray(), [true, false, true]);
  assert.deepEqual(ef.tensor([1n, 2], undefined, "int64").toArray(), [1n, 2n]);
  assert.deepEqual(ef.tensor([NaN, -Infinity]).toArray(), [NaN, -Infinity]);
  assert.deepEqual(ef.tensor(new Int32Array([1, 2]), [2], "float32").toArray(), [1, 2]);
});

Deno.test("tensor(): a ragged array names where it is ragged", () => {
  refuses(() => ef.tensor([[1, 2], [3]]), /ragged/, /element \[1\] has shape \[1\]/);
  refuses(() => ef.tensor([[[1], [2]], [[3], [4, 5]]]), /element \[1\]\[1\] has shape \[2\]/);
});

Deno.test("tensor(): a cyclic array is refused, not a stack overflow", () => {
  const a: unknown[] = [];
  a.push(a);
  refuses(() => ef.tensor(a as never), /nested deeper than rank 254/);
});

Deno.test("new Tensor: dims must be whole, non-negative and match the data", () => {
  refuses(() => new ef.Tensor("float32", [-2, -2], new Float32Array(4)), /non-negative/, /-2/);
  refuses(() => new ef.Tensor("float32", [1.5, 2], new Float32Array(3)), /1\.5/);
  refuses(() => new ef.Tensor("float32", "2" as never, new Float32Array(2)), /shape/);
  refuses(() => new ef.Tensor("float32", [NaN], new Float32Array(0)), /NaN/);
  refuses(() => new ef.Tensor("float32", [2, 2], new Float32Array(3)), /needs 4 values, got 3/);
  refuses(
    () => new ef.Tensor("float32", [2 ** 30, 2 ** 30, 2 ** 30], new Float32Array(0)),
    /2\^53/,
  );
  refuses(() => new ef.Tensor("complex64" as never, [1], new Float32Array(1) as never), /dtype/);
});

Deno.test("new Tensor: the typed array must be the dtype's storage", () => {
  refuses(() => new ef.Tensor("float32", [2], new Int32Array(2) as never), /Float32Array/);
  refuses(() => new ef.Tensor("int64", [2], new Float64Array(2) as never), /BigInt64Array/);
  refuses(() => new ef.Tensor("bfloat16", [2], new Float32Array(2) as never), /Uint16Array/);
  refuses(() => new ef.Tensor("string", [1], new Uint8Array(1) as never), /Array/);
  assert.equal(new ef.Tensor("bool", [2], new Uint8Array(2)).size, 2);
});

Deno.test("Tensor.zeros of an impossible size is an EdgeflowError, not a RangeError", () => {
  refuses(() => ef.Tensor.zeros("float32", [2 ** 40]), /cannot allocate 1099511627776/);
});

Deno.test("builder literals: bad values name the input and the op", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  refuses(() => ef.add(x, "abc" as never), /op Add/, /input 'y'/, /'abc'/);
  refuses(() => ef.add(x, [1, undefined] as never), /input 'y'/, /element 1 is undefined/);
  refuses(() => ef.add(x, null as never), /input 'y'/, /null/);
  refuses(() => ef.add(x, [[1, 2], [3]]), /input 'y'/, /ragged/);
  refuses(() => ef.reshape(x, [1, "2"] as never), /op Reshape/, /input 'shape'/, /'2'/);
  refuses(() => ef.concat([x, "q"] as never, 0), /input 'values'\[1\]/);
  refuses(() => ef.concat(x as never, 0), /input 'values' must be a list/);
  refuses(() => ef.add(x, 1, "name" as never), /options must be an object/);
  refuses(() => ef.placeholder(g, "float32", "abc" as never), /shape must be an array/);
  refuses(() => ef.placeholder(g, "floaty" as never, [2]), /attribute 'dtype'/);
});

Deno.test('constant("abc", {dtype: float32}) is refused', () => {
  const g = new ef.Graph();
  g.asDefault(() => {
    refuses(() => ef.constant("abc", { dtype: "float32" }), /op Const/, /'abc'/, /float32/);
    refuses(() => ef.constant([1, 2], { dtype: "int33" as never }), /dtype/);
  });
});

Deno.test("feeds: values that are not numbers name the fed node", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const y = ef.neg(x);
  await using s = new ef.Session(g, { device: "REF" });
  await refusesAsync(() => s.run(y, { x: ["a", 1] as never }), /node 'x'/, /'a'/);
  await refusesAsync(() => s.run(y, { x: [1, null] as never }), /node 'x'/, /null/);
  await refusesAsync(() => s.run(y, { x: { a: 1 } as never }), /node 'x'/, /object/);
  await refusesAsync(() => s.run(y, 5 as never), /feeds must be/);
  await refusesAsync(() => s.run(42 as never), /fetch/, /42/);
  await refusesAsync(() => s.run([], {}, [5 as never]), /a target must be/, /5 \(a number\)/);
  assert.deepEqual((await s.run(y, { x: [1, NaN] })).toArray(), [-1, NaN]);
});

Deno.test("Session options: bad values name the option", () => {
  const g = new ef.Graph();
  refuses(() => new ef.Session(undefined as never), /graph must be a Graph/);
  refuses(() => new ef.Session(g, "WASM" as never), /options must be an object/);
  refuses(() => new ef.Session(g, { device: "QPU" }), /'device'/, /QPU/);
  refuses(() => new ef.Session(g, { device: 3 as never }), /'device' must be a string/);
  refuses(() => new ef.Session(g, { devcie: "REF" } as never), /'devcie' is not one of/);
  refuses(() => new ef.Session(g, { passes: true as never }), /'passes' must be an object/);
  refuses(() => new ef.Session(g, { passes: { cfse: false } as never }), /passes.'cfse'/);
  refuses(
    () => new ef.Session(g, { passes: { cse: "no" } as never }),
    /passes.cse must be a boolean/,
  );
  refuses(() => new ef.Session(g, { deviceOptions: { GPU0: {} } as never }), /deviceOptions.GPU0/);
  refuses(() => new ef.Session(g, { deviceOptions: { REF: 1 } as never }), /deviceOptions.REF/);
  refuses(
    () => new ef.Session(g, { deviceOptions: { REF: { memoryLimit: -1 } } }),
    /deviceOptions.REF.memoryLimit/,
  );
  refuses(() => new ef.Session(g, { devices: [null] as never }), /devices\[0\]/);
});

Deno.test("run: options passed as the targets argument are named, not a raw TypeError", async () => {
  const g = new ef.Graph();
  const x = ef.constant([1, 2], { graph: g });
  await using s = new ef.Session(g, { device: "REF" });
  await assert.rejects(
    () => s.run(x, {}, { metadata: {} } as never),
    (e: unknown) =>
      e instanceof ef.EdgeflowError && /targets \(3rd argument\)/.test(e.message) &&
      /go 4th/.test(e.message),
  );
  await assert.rejects(
    () => s.run(x, {}, [], 3 as never),
    (e: unknown) => e instanceof ef.EdgeflowError && /options \(4th argument\)/.test(e.message),
  );
});
