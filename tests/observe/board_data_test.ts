// The board's data: one run per directory with event files, the newest trace, and files that
// are cut short or corrupt reported as problems instead of failing the page.
import assert from "node:assert/strict";
import { SummaryWriter } from "../../summary.ts";
import { loadBoardData } from "../../tools/board/data.ts";

Deno.test("board data: runs per directory, scalars in step order, problems named", async () => {
  const logdir = await Deno.makeTempDir();
  try {
    for (const run of ["a", "b"]) {
      await using w = await SummaryWriter.create(`${logdir}/${run}`);
      for (const step of [2, 0, 1]) w.scalar("loss", step + (run === "a" ? 0 : 10), step);
    }
    const cut = await SummaryWriter.create(`${logdir}/b`, { filenameSuffix: ".cut" });
    await cut.scalar("x", 1, 0);
    await cut.close();
    const bytes = await Deno.readFile(cut.path);
    await Deno.writeFile(cut.path, bytes.subarray(0, bytes.length - 3));
    await Deno.writeTextFile(`${logdir}/old.trace.json`, '{"traceEvents":[]}');
    await new Promise((r) => setTimeout(r, 20));
    await Deno.writeTextFile(`${logdir}/a/new.trace.json`, '{"traceEvents":[],"n":2}');

    const data = await loadBoardData(logdir);
    assert.deepEqual(data.runs.map((r) => r.name).sort(), ["a", "b"]);
    const a = data.runs.find((r) => r.name === "a")!;
    assert.deepEqual(a.scalars.loss, [[0, 0], [1, 1], [2, 2]]);
    const b = data.runs.find((r) => r.name === "b")!;
    assert.deepEqual(b.scalars.x, undefined, "the cut file's only event is dropped");
    assert.equal(b.problems.length, 1);
    assert.match(b.problems[0], /\.cut: the last record is cut short/);
    assert.equal((data.trace as { n?: number }).n, 2);
    // A second writer into "a" (the demo run again) replaces the first from its first step on.
    {
      await new Promise((r) => setTimeout(r, 5));
      await using again = await SummaryWriter.create(`${logdir}/a`);
      for (const step of [1, 2, 3]) again.scalar("loss", 100 + step, step);
    }
    const rerun = (await loadBoardData(logdir)).runs.find((r) => r.name === "a")!;
    assert.deepEqual(rerun.scalars.loss, [[0, 0], [1, 101], [2, 102], [3, 103]]);
    assert.match(data.traceFile!, /new\.trace\.json$/);
  } finally {
    await Deno.remove(logdir, { recursive: true });
  }
});
