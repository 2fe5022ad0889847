// Loop variables whose shape changes between iterations (a shape invariant relaxed from the
// initial shape), on every device: the session's graph copies (pruning, constant folding) keep
// the Merge's relaxed shape before copying its readers, so a Shape of the loop's result is not
// folded to the initial value's shape; and REF's run-time shape inference of such a Merge reads
// its live input (the others are dead).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

for (const device of ["REF", "WASM"]) {
  Deno.test(`whileLoop: a growing loop variable and the Shape of its result (${device})`, async () => {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const [, grown] = g.asDefault(() =>
      ef.whileLoop(
        (i) => ef.less(i, n),
        (i, acc) => [ef.add(i, 1), ef.concat([acc, ef.reshape(ef.cast(i, "float32"), [1])], 0)],
        [
          ef.constant(0, { dtype: "int32" }),
          ef.constant(new ef.Tensor("float32", [0], new Float32Array())),
        ],
        { shapeInvariants: [[], [-1]] },
      )
    );
    const shape = g.asDefault(() => ef.shape(grown));
    await using s = new ef.Session(g, { device });
    for (const k of [0, 3]) {
      const [v, sh] = await s.run([grown, shape], { n: k }) as ef.Tensor[];
      assert.deepEqual(v.toArray(), Array.from({ length: k }, (_, i) => i));
      assert.deepEqual(sh.toArray(), [k]);
    }
  });
}
