import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { philox } from "../core/philox.ts";

Deno.test("Philox4x32-10 matches the Random123 known-answer vectors", () => {
  const out = new Uint32Array(4);
  philox(0, 0, 0, 0, 0, 0, out);
  assert.deepEqual([...out], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  philox(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
  assert.deepEqual([...out], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
  philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
  assert.deepEqual([...out], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
});

async function draw(seed: number, runs: number, op = ef.randomUniform) {
  const g = new ef.Graph();
  const r = op([1000], { graph: g, seed });
  await using s = new ef.Session(g);
  const out: number[][] = [];
  for (let i = 0; i < runs; i++) out.push((await s.run(r)).toNumbers());
  return out;
}

Deno.test("the same seed gives the same numbers; successive runs draw new ones", async () => {
  const [a1, a2] = await draw(7, 2);
  const [b1] = await draw(7, 1);
  const [c1] = await draw(8, 1);
  assert.deepEqual(a1, b1);
  assert.notDeepEqual(a1, a2);
  assert.notDeepEqual(a1, c1);
});

Deno.test("distributions: uniform in [0,1), normal, truncated within 2 stddev", async () => {
  const [u] = await draw(3, 1);
  assert.ok(u.every((v) => v >= 0 && v < 1));
  const mean = u.reduce((a, b) => a + b) / u.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `uniform mean ${mean}`);
  const [n] = await draw(3, 1, ef.randomNormal);
  const nm = n.reduce((a, b) => a + b) / n.length;
  const nv = n.reduce((a, b) => a + (b - nm) ** 2, 0) / n.length;
  assert.ok(Math.abs(nm) < 0.1 && Math.abs(nv - 1) < 0.15, `normal mean ${nm} var ${nv}`);
  const [t] = await draw(3, 1, ef.truncatedNormal);
  assert.ok(t.every((v) => Math.abs(v) <= 2));
});

Deno.test("a graph seed makes unseeded ops deterministic and distinct", async () => {
  const build = () => {
    const g = new ef.Graph();
    g.seed = 42;
    return [g, ef.randomUniform([4], { graph: g }), ef.randomUniform([4], { graph: g })] as const;
  };
  const [g1, a1, b1] = build();
  const [g2, a2] = build();
  await using s1 = new ef.Session(g1);
  await using s2 = new ef.Session(g2);
  const [x, y] = await s1.run([a1, b1]);
  assert.deepEqual(x.toNumbers(), (await s2.run(a2)).toNumbers());
  assert.notDeepEqual(x.toNumbers(), y.toNumbers());
});
