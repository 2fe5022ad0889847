/**
 * A histogram of values as TensorBoard's HistogramProto: 30 equal-width buckets from min to max
 * (tf.summary.histogram's default bucket count); bucket i counts the values up to limit i.
 */
import type { Histogram } from "./event_encode.ts";

export const DEFAULT_BUCKETS = 30;

/** Undefined when a value is NaN or infinite (the caller names the tag). */
export function histogramOf(
  values: ArrayLike<number>,
  buckets = DEFAULT_BUCKETS,
): Histogram | undefined {
  let min = Infinity, max = -Infinity, sum = 0, sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isFinite(x)) return undefined;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sumSquares += x * x;
  }
  const num = values.length;
  if (num === 0) {
    return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  }
  if (min === max) {
    return { min, max, num, sum, sumSquares, bucketLimit: [max], bucket: [num] };
  }
  const width = (max - min) / buckets;
  const bucket = new Array<number>(buckets).fill(0);
  for (let i = 0; i < values.length; i++) {
    bucket[Math.min(buckets - 1, Math.floor((values[i] - min) / width))]++;
  }
  const bucketLimit = bucket.map((_, i) => (i === buckets - 1 ? max : min + width * (i + 1)));
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}
