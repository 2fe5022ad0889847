// ResizeBilinear and ResizeNearestNeighbor against values TensorFlow gives (tf.raw_ops with each
// mode on [[1, 2], [3, 4]]), on REF and WASM, and TensorFlow's refusals.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { ResizeBilinear, ResizeNearestNeighbor } from "../core/ops/resize.ts";
import { apply } from "../core/ops/build.ts";

const IMAGE = new ef.Tensor("float32", [1, 2, 2, 1], Float32Array.of(1, 2, 3, 4));
type Mode = { align_corners?: boolean; half_pixel_centers?: boolean };

async function resize(op: typeof ResizeBilinear, size: number[], mode: Mode, device: string) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [1, 2, 2, 1], { name: "x" });
  const y = apply(op, [
    x,
    ef.constant(new ef.Tensor("int32", [size.length], Int32Array.from(size)), { graph: g }),
  ], {
    ...mode,
    graph: g,
  }).outputs[0];
  await using s = new ef.Session(g, { device });
  return (await s.run(y, { x: IMAGE })).toNumbers();
}

const CASES: [typeof ResizeBilinear, number[], Mode, number[]][] = [
  [ResizeBilinear, [4, 4], { half_pixel_centers: true }, [
    1,
    1.25,
    1.75,
    2,
    1.5,
    1.75,
    2.25,
    2.5,
    2.5,
    2.75,
    3.25,
    3.5,
    3,
    3.25,
    3.75,
    4,
  ]],
  [ResizeBilinear, [3, 3], { align_corners: true }, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]],
  // Legacy: source y·scale; the last rows repeat the edge.
  [ResizeBilinear, [4, 4], {}, [1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4]],
  [ResizeNearestNeighbor, [4, 4], {}, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]],
  [ResizeNearestNeighbor, [4, 4], { half_pixel_centers: true }, [
    1,
    1,
    2,
    2,
    1,
    1,
    2,
    2,
    3,
    3,
    4,
    4,
    3,
    3,
    4,
    4,
  ]],
  // align_corners rounds half away from zero: source 0.5 → 1.
  [ResizeNearestNeighbor, [3, 3], { align_corners: true }, [1, 2, 2, 3, 4, 4, 3, 4, 4]],
];

for (const [op, size, mode, want] of CASES) {
  Deno.test(`${op.name} ${JSON.stringify(mode)} to ${size}: TensorFlow's values`, async () => {
    for (const device of ["REF", "WASM"]) {
      assert.deepEqual(await resize(op, size, mode, device), want, device);
    }
  });
}

Deno.test("resizes refuse what TensorFlow refuses, naming the node", async () => {
  const refused = async (size: number[], mode: Mode, re: RegExp) =>
    await assert.rejects(resize(ResizeBilinear, size, mode, "WASM"), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match(e.message, re);
      assert.match(e.message, /ResizeBilinear/);
      return true;
    });
  await refused(
    [2, 2],
    { align_corners: true, half_pixel_centers: true },
    /align_corners must be false/,
  );
  await refused([0, 2], {}, /output dimensions must be positive/);
  await refused([2, 2, 2], {}, /size must have 2 elements/);
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [1, 2, 2, 0]);
  assert.throws(
    () =>
      apply(ResizeBilinear, [
        x,
        ef.constant(new ef.Tensor("int32", [2], Int32Array.of(3, 3)), { graph: g }),
      ], { graph: g }),
    /image must have at least one channel/,
  );
});
