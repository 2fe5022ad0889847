// Request bodies to tensors without a server: binary bodies at aligned and unaligned offsets
// (a view or a copy), every numeric dtype, and JSON bodies' shorthand and refusals.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { HttpError } from "../../examples/serve/http_error.ts";
import { parseBinaryBody, parseJsonBody } from "../../examples/serve/request.ts";

const input = (dtype: ef.DType, shape: number[]): ef.SignatureTensor[] => [
  { key: "x", name: "x:0", dtype, shape },
];

Deno.test("binary bodies: every numeric dtype, aligned (a view) or not (a copy)", () => {
  const cases: [ef.DType, ArrayBufferView, ef.NestedArray][] = [
    ["float32", new Float32Array([1.5, -2]), [[1.5, -2]]],
    ["int32", new Int32Array([7, -8]), [[7, -8]]],
    ["int64", new BigInt64Array([2n ** 40n, -1n]), [[2n ** 40n, -1n]]],
    ["bool", new Uint8Array([1, 0]), [[true, false]]],
    ["uint8", new Uint8Array([255, 3]), [[255, 3]]],
    ["int8", new Int8Array([-128, 5]), [[-128, 5]]],
  ];
  for (const [dtype, values, expected] of cases) {
    const raw = new Uint8Array(values.buffer);
    for (const offset of [0, 1, 8]) {
      const holder = new Uint8Array(raw.byteLength + offset);
      holder.set(raw, offset);
      const bytes = holder.subarray(offset);
      const headers = new Headers({ "x-shape": "1,2", "x-dtype": dtype });
      const r = parseBinaryBody(bytes, headers, input(dtype, [-1, 2]));
      assert.equal(r.rows, 1);
      assert.deepEqual(r.feeds.get("x")!.toArray(), expected, `${dtype} at offset ${offset}`);
    }
  }
});

Deno.test("binary bodies: a size, shape or dtype that does not fit is an HttpError 400", () => {
  const bad: [Record<string, string>, number, RegExp][] = [
    [{ "x-shape": "1,3" }, 8, /needs 12 bytes/],
    [{ "x-shape": "1,x" }, 8, /not a list of dims/],
    [{ "x-shape": "2" }, 8, /shape \[2\]/],
    [{ "x-shape": "1,2", "x-dtype": "string" }, 8, /not a numeric dtype/],
    [{ "x-shape": "1,2", "x-input": "y" }, 8, /no input 'y'/],
  ];
  for (const [headers, n, message] of bad) {
    assert.throws(
      () => parseBinaryBody(new Uint8Array(n), new Headers(headers), input("float32", [-1, 2])),
      (e) => e instanceof HttpError && e.status === 400 && message.test(e.message),
      JSON.stringify(headers),
    );
  }
});

Deno.test("JSON bodies: the one-input shorthand, int64 and refusals", () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const r = parseJsonBody(enc({ inputs: [[1, 2], [3, 4]] }), input("int64", [-1, 2]));
  assert.equal(r.rows, 2);
  assert.deepEqual(r.feeds.get("x")!.toArray(), [[1n, 2n], [3n, 4n]]);
  const bad: [Uint8Array, RegExp][] = [
    [new Uint8Array([0xff, 0xfe]), /not JSON/],
    [enc([1, 2]), /"inputs"/],
    [enc({ inputs: { x: [[1, 2, 3]] } }), /shape \[1,3\]/],
    [enc({ inputs: { x: [["a", 2]] } }), /input 'x'/],
  ];
  for (const [body, message] of bad) {
    assert.throws(
      () => parseJsonBody(body, input("float32", [-1, 2])),
      (e) => e instanceof HttpError && e.status === 400 && message.test(e.message),
      String(message),
    );
  }
});
