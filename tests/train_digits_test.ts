// The training demo and the README's first example, run as a user runs them: the demo (shortened
// to a lower target) must train past it, restore the same accuracy in a fresh session and export
// a frozen inference graph; the README snippet must print what its comment says.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function deno(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `deno ${args.join(" ")} failed:\n${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("the digits demo trains past 90% test accuracy, restores it and exports a frozen graph", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeflow-demo-" });
  try {
    const stdout = await deno([
      "run",
      "-A",
      "examples/train_digits.ts",
      "--json",
      "--target",
      "0.9",
      "--max-epochs",
      "8",
      "--out",
      dir,
    ]);
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.ok(r.reached, `stopped at ${r.testAccuracy} after ${r.steps} steps`);
    assert.ok(r.testAccuracy >= 0.9);
    assert.equal(r.restoredAccuracy, r.testAccuracy);
    // The frozen graph imports and classifies without variables.
    const imported = ef.fromGraphDef(JSON.parse(await Deno.readTextFile(r.inferenceGraph)));
    assert.ok(!imported.nodes.some((n) => n.op.name === "VarHandleOp"));
    await using s = new ef.Session(imported, { device: "REF" });
    // The last dense layer's output: the logits.
    const logits = await s.run(imported.tensor("dense_1/BiasAdd"), {
      x: new ef.Tensor("float32", [2, 8, 8, 1], new Float32Array(128)),
    });
    assert.deepEqual(logits.shape, [2, 10]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's first example prints what its comment says", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const snippet = /```ts\n([\s\S]*?)```/.exec(readme)![1];
  const expected = /\/\/ (\S+ \S+)\n$/.exec(snippet)![1];
  const path = `${ROOT}/.readme_snippet_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(path, snippet);
  try {
    assert.equal((await deno(["run", "-A", path])).trim(), expected);
  } finally {
    await Deno.remove(path);
  }
});
