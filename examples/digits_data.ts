/**
 * The UCI handwritten digits (data/digits.csv.gz, attribution in data/README.md): loading, parsing
 * and a seeded train/test split. Independent of Edgeflow's core, so every runner of the training
 * bench (Edgeflow, tfjs, jax-js) sees exactly the same examples.
 *
 * The file is CSV without a header: 1797 rows of 64 pixels (an 8x8 image, row-major, integers
 * 0..16: the count of set pixels in a 4x4 block of the 32x32 bitmap) and the label 0..9 last.
 */

export const DIGITS_PIXELS = 64;
export const DIGITS_SIDE = 8;
export const DIGITS_CLASSES = 10;
/** The largest pixel value in the file (16 set pixels of a 4x4 block). */
export const DIGITS_MAX_PIXEL = 16;

/** Examples as flat arrays: `pixels` holds `count` images of 8x8 (NHWC with one channel). */
export interface Digits {
  readonly count: number;
  /** count × 64 pixels scaled to [0, 1]. */
  readonly pixels: Float32Array;
  /** count labels 0..9. */
  readonly labels: Int32Array;
}

export interface DigitsSplit {
  readonly train: Digits;
  readonly test: Digits;
}

/** A malformed digits file: says which file and line. */
export class DigitsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DigitsFormatError";
  }
}

export const DIGITS_URL = new URL("../data/digits.csv.gz", import.meta.url);

/** Reads, gunzips and parses the digits file. */
export async function loadDigits(url: URL = DIGITS_URL): Promise<Digits> {
  const gz = await Deno.readFile(url);
  return parseDigitsCsv(await gunzipText(gz), url.pathname);
}

/** Decompresses gzip bytes to UTF-8 text with the platform's DecompressionStream. */
export async function gunzipText(gz: Uint8Array): Promise<string> {
  const stream = new Blob([gz as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/** Parses the CSV text; every value is checked (65 integer fields, pixels 0..16, labels 0..9). */
export function parseDigitsCsv(text: string, source = "digits.csv"): Digits {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const count = lines.length;
  const pixels = new Float32Array(count * DIGITS_PIXELS);
  const labels = new Int32Array(count);
  for (let row = 0; row < count; row++) {
    const fields = lines[row].split(",");
    const where = () => `${source}:${row + 1}`;
    if (fields.length !== DIGITS_PIXELS + 1) {
      throw new DigitsFormatError(
        `${where()}: expected ${DIGITS_PIXELS + 1} fields, got ${fields.length}`,
      );
    }
    for (let i = 0; i <= DIGITS_PIXELS; i++) {
      const field = fields[i].trim();
      const max = i < DIGITS_PIXELS ? DIGITS_MAX_PIXEL : DIGITS_CLASSES - 1;
      if (!/^\d+$/.test(field) || Number(field) > max) {
        throw new DigitsFormatError(
          `${where()}: field ${i + 1} is '${field}', expected an integer 0..${max}`,
        );
      }
      if (i < DIGITS_PIXELS) pixels[row * DIGITS_PIXELS + i] = Number(field) / DIGITS_MAX_PIXEL;
      else labels[row] = Number(field);
    }
  }
  return { count, pixels, labels };
}

/**
 * A seeded split: a Fisher–Yates shuffle driven by mulberry32(seed), then the first
 * round(count × testFraction) shuffled examples are the test set. Ports to any language in a few
 * lines (32-bit integer arithmetic only), so other runners can reproduce it.
 */
export function splitDigits(data: Digits, seed = 0, testFraction = 0.2): DigitsSplit {
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new RangeError(`testFraction must lie in [0, 1], got ${testFraction}`);
  }
  const order = shuffledIndices(data.count, seed);
  const testCount = Math.round(data.count * testFraction);
  return {
    test: take(data, order.subarray(0, testCount)),
    train: take(data, order.subarray(testCount)),
  };
}

/** 0..n-1 shuffled by Fisher–Yates with mulberry32(seed). */
export function shuffledIndices(n: number, seed: number): Int32Array {
  const next = mulberry32(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    // 32 random bits scaled to 0..i: the bias, under (i + 1) / 2^32, is immaterial for a split.
    const j = Math.floor(next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** mulberry32: a small 32-bit generator; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The examples at `indices`, in that order. */
export function take(data: Digits, indices: ArrayLike<number>): Digits {
  const count = indices.length;
  const pixels = new Float32Array(count * DIGITS_PIXELS);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k];
    pixels.set(data.pixels.subarray(i * DIGITS_PIXELS, (i + 1) * DIGITS_PIXELS), k * DIGITS_PIXELS);
    labels[k] = data.labels[i];
  }
  return { count, pixels, labels };
}
