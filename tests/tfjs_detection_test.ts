// The detection post-processing ops against @tensorflow/tfjs-backend-cpu, every output compared:
// TopKV2 (tf.topk), Unique (tf.unique), Where (tf.whereAsync), NonMaxSuppressionV3/V4/V5
// (tf.image.nonMaxSuppression, nonMaxSuppressionPadded, nonMaxSuppressionWithScore), on cases
// drawn by each op's arbitrary. TensorFlow's semantics are the truth: tfjs's departures are
// listed with their reasons, and the cases they cover are counted and printed, not compared.
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-cpu@4";
import fc from "npm:fast-check@4";
import type { DType } from "../core/dtype.ts";
import type { Attrs, OpCase, OpDef } from "../core/op.ts";
import { TopKV2 } from "../core/ops/topk.ts";
import { Unique } from "../core/ops/unique.ts";
import { Where } from "../core/ops/where.ts";
import { NonMaxSuppressionV3, NonMaxSuppressionV4, NonMaxSuppressionV5 } from "../core/ops/nms.ts";
import { numbers, type Tensor } from "../core/tensor.ts";
import { fcParams, opCases } from "./op_cases.ts";
import { resolvedAttrs, runReference } from "./kernels/run_case.ts";

await tf.setBackend("cpu");

const scalar = (t: tf.Tensor) => t.dataSync()[0];
type Call = (xs: tf.Tensor[], attrs: Attrs) => Promise<tf.Tensor[]> | tf.Tensor[];

interface Pairing {
  op: OpDef;
  tfjs: Call;
  dtypes: readonly DType[];
  /** Why a case is not compared (a tfjs departure from TensorFlow), or undefined. */
  departs?: (c: OpCase<Attrs>) => string | undefined;
}

const hasNaN = (t: Tensor) => Array.from(numbers(t)).some(Number.isNaN);

const PAIRINGS: Pairing[] = [
  {
    op: TopKV2,
    dtypes: ["float32", "int32"],
    // sorted=false lets TensorFlow return the top k in any order; Edgeflow returns them sorted,
    // one of those orders, so it is compared with tfjs's sorted answer.
    tfjs: ([x, k]) => {
      const r = tf.topk(x, scalar(k), true);
      return [r.values, r.indices];
    },
    departs: (c) =>
      hasNaN(c.inputs[0])
        ? "NaN: TensorFlow's comparator is no order with NaN; Edgeflow ranks NaN above +Inf"
        : undefined,
  },
  {
    op: Unique,
    dtypes: ["float32", "int32", "bool"],
    tfjs: ([x]) => {
      const r = tf.unique(x);
      return [r.values, r.indices];
    },
    departs: (c) =>
      hasNaN(c.inputs[0])
        ? "tfjs's unique keys values by string, so NaNs merge; TensorFlow's == keeps each apart"
        : undefined,
  },
  {
    op: Where,
    dtypes: ["float32", "int32", "bool"],
    // tfjs's whereAsync takes bool only; a nonzero (NaN included) casts to true, as Where reads it.
    tfjs: async ([x]) => [await tf.whereAsync(x.dtype === "bool" ? x : tf.cast(x, "bool"))],
  },
  {
    op: NonMaxSuppressionV3,
    dtypes: ["float32"],
    tfjs: ([b, s, m, i, t]) => [
      tf.image.nonMaxSuppression(
        b as tf.Tensor2D,
        s as tf.Tensor1D,
        scalar(m),
        scalar(i),
        scalar(t),
      ),
    ],
  },
  {
    op: NonMaxSuppressionV4,
    dtypes: ["float32"],
    tfjs: ([b, s, m, i, t], a) => {
      const r = tf.image.nonMaxSuppressionPadded(
        b as tf.Tensor2D,
        s as tf.Tensor1D,
        scalar(m),
        scalar(i),
        scalar(t),
        a.pad_to_max_output_size as boolean,
      );
      return [r.selectedIndices, r.validOutputs];
    },
  },
  {
    op: NonMaxSuppressionV5,
    dtypes: ["float32"],
    tfjs: ([b, s, m, i, t, sigma], a) => {
      const r = tf.image.nonMaxSuppressionWithScore(
        b as tf.Tensor2D,
        s as tf.Tensor1D,
        scalar(m),
        scalar(i),
        scalar(t),
        scalar(sigma),
      );
      // tfjs has no padded form of V5: pad its outputs as TensorFlow does, to
      // min(max_output_size, num_boxes).
      if (!a.pad_to_max_output_size) {
        return [r.selectedIndices, r.selectedScores, tf.scalar(r.selectedIndices.size, "int32")];
      }
      const n = Math.max(Math.min(scalar(m), b.shape[0]), r.selectedIndices.size);
      const extra = n - r.selectedIndices.size;
      return [
        tf.pad(r.selectedIndices, [[0, extra]]),
        tf.pad(r.selectedScores, [[0, extra]]),
        tf.scalar(r.selectedIndices.size, "int32"),
      ];
    },
    departs: (c) =>
      numbers(c.inputs[5])[0] > 0
        ? "soft-NMS: tfjs computes exp(scale·IOU²) and the score products in float64, " +
          "TensorFlow rounds each to float32, so a decayed score can differ in its last bits"
        : undefined,
  },
];

function toTf(t: Tensor): tf.Tensor {
  const shape = [...t.shape];
  if (t.dtype === "bool") {
    return tf.tensor(Array.from(t.data as Uint8Array, Boolean), shape, "bool");
  }
  return tf.tensor(Array.from(numbers(t)), shape, t.dtype === "float32" ? "float32" : "int32");
}

async function check(p: Pairing, c: OpCase<Attrs>, skipped: Map<string, number>) {
  const why = p.departs?.(c);
  if (why) {
    skipped.set(why, (skipped.get(why) ?? 0) + 1);
    return;
  }
  const expected = runReference(p.op, c).outputs;
  const inputs = c.inputs.map(toTf);
  const got = await p.tfjs(inputs, resolvedAttrs(p.op, c));
  try {
    expected.forEach((e, k) => {
      const g = got[k];
      const shown = JSON.stringify(c.inputs.map((t) => Array.from(numbers(t))));
      assert.deepEqual(g.shape, [...e.shape], `${p.op.name} output ${k} shape on ${shown}`);
      const want = Array.from(numbers(e)),
        have = Array.from(g.dataSync() as ArrayLike<number>, Number);
      assert.deepEqual(have, want, `${p.op.name} output ${k} on ${shown}`);
    });
  } finally {
    for (const t of [...inputs, ...got]) t.dispose();
  }
}

for (const p of PAIRINGS) {
  for (const dtype of p.dtypes) {
    Deno.test(`tfjs ${p.op.name} ${dtype}: drawn cases agree`, async () => {
      const skipped = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(opCases(p.op, dtype), (c: OpCase<Attrs>) => check(p, c, skipped)),
        fcParams(40),
      );
      for (const [reason, n] of skipped) console.log(`  ${n} case(s) not compared: ${reason}`);
    });
  }
}
