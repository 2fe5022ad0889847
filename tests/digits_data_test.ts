// The digits file as committed: its size and hash, counts, ranges, and the seeded split.
import assert from "node:assert/strict";
import {
  DIGITS_PIXELS,
  DIGITS_URL,
  DigitsFormatError,
  loadDigits,
  mulberry32,
  parseDigitsCsv,
  splitDigits,
} from "../examples/digits_data.ts";

const SHA256 = "46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a";

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("the committed file is the one data/README.md attributes", async () => {
  const bytes = await Deno.readFile(DIGITS_URL);
  assert.equal(hex(await crypto.subtle.digest("SHA-256", bytes)), SHA256);
});

Deno.test("loadDigits: 1797 examples, pixels in [0, 1] from 0..16, every class present", async () => {
  const d = await loadDigits();
  assert.equal(d.count, 1797);
  assert.equal(d.pixels.length, 1797 * DIGITS_PIXELS);
  let min = Infinity, max = -Infinity;
  for (const p of d.pixels) {
    min = Math.min(min, p);
    max = Math.max(max, p);
    // Every pixel is k/16 exactly: the file holds integers.
    assert.ok(Number.isInteger(p * 16));
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  const perClass = new Array(10).fill(0);
  for (const l of d.labels) perClass[l]++;
  // The class counts of scikit-learn's copy of the UCI test set.
  assert.deepEqual(perClass, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
  // The first row of the file: a 0.
  assert.equal(d.labels[0], 0);
  assert.deepEqual(
    Array.from(d.pixels.subarray(0, 8), (p) => p * 16),
    [0, 0, 5, 13, 9, 1, 0, 0],
  );
});

Deno.test("splitDigits: seeded 80/20, disjoint, covering, reproducible", async () => {
  const d = await loadDigits();
  const a = splitDigits(d, 7);
  const b = splitDigits(d, 7);
  const c = splitDigits(d, 8);
  assert.equal(a.test.count, Math.round(1797 * 0.2));
  assert.equal(a.train.count + a.test.count, 1797);
  assert.deepEqual(a.test.labels, b.test.labels);
  assert.deepEqual(a.train.pixels, b.train.pixels);
  assert.notDeepEqual(a.test.labels, c.test.labels);
  // The two parts hold every example once: compare multisets of (pixels, label) rows.
  const key = (p: Float32Array, l: Int32Array, i: number) =>
    `${p.subarray(i * 64, i * 64 + 64).join()}|${l[i]}`;
  const all = new Map<string, number>();
  for (let i = 0; i < d.count; i++) {
    const k = key(d.pixels, d.labels, i);
    all.set(k, (all.get(k) ?? 0) + 1);
  }
  for (const part of [a.train, a.test]) {
    for (let i = 0; i < part.count; i++) {
      const k = key(part.pixels, part.labels, i);
      assert.ok((all.get(k) ?? 0) > 0, `row ${i} not in the data or taken twice`);
      all.set(k, all.get(k)! - 1);
    }
  }
  assert.ok([...all.values()].every((n) => n === 0));
});

Deno.test("mulberry32 matches an independent 32-bit implementation", () => {
  // The algorithm's C form run in Python's unbounded integers masked to 32 bits, seed 0.
  const next = mulberry32(0);
  const first = [next(), next(), next()].map((x) => Math.round(x * 4294967296));
  assert.deepEqual(first, [1144304738, 1416247, 958946056]);
});

Deno.test("parseDigitsCsv names the file and line of a bad row", () => {
  const good = `${new Array(64).fill(0).join()},3\n`;
  assert.equal(parseDigitsCsv(good + good).count, 2);
  assert.throws(
    () => parseDigitsCsv(good + "1,2,3\n", "f.csv"),
    (e) => e instanceof DigitsFormatError && /f\.csv:2: expected 65 fields, got 3/.test(e.message),
  );
  assert.throws(
    () => parseDigitsCsv(`${new Array(64).fill(17).join()},3\n`, "f.csv"),
    /f\.csv:1: field 1 is '17', expected an integer 0\.\.16/,
  );
  assert.throws(
    () => parseDigitsCsv(`${new Array(64).fill(0).join()},10\n`, "f.csv"),
    /field 65 is '10', expected an integer 0\.\.9/,
  );
  assert.throws(() => parseDigitsCsv(`${new Array(64).fill("x").join()},1\n`), DigitsFormatError);
});
