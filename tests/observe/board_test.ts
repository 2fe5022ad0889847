// The board in headless Chromium (Debian's /usr/bin/chromium through playwright-core): a log
// directory from a few SGD steps of a digits-like CNN (summaries and a step trace) is served,
// the page draws the graph coloured by device, the curves and the timeline, and a screenshot is
// written to tests/artifacts/board.png (git-ignored).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { SummaryWriter, writeVariableHistograms } from "../../summary.ts";
import { serveBoard } from "../../tools/board/server.ts";
import { reportMissing } from "../kernels/devices.ts";
import { digitsBatch, digitsCnn } from "./digits_cnn.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../artifacts/", import.meta.url);

/** Trains a few steps, writing what the digits example writes, into `logdir`. */
async function trainInto(logdir: string) {
  const m = digitsCnn();
  await using s = new ef.Session(m.graph);
  await s.run([], {}, [ef.globalVariablesInitializer(m.graph)]);
  await using writer = await SummaryWriter.create(logdir);
  writer.graph(m.graph);
  const graphNodes = m.graph.nodes.length;
  const batch = digitsBatch(16);
  const feeds: [ef.Output, ef.Tensor][] = [[m.x, batch.images], [m.labels, batch.labels]];
  const steps = 4;
  for (let step = 0; step < steps; step++) {
    const metadata = { steps: [] } as ef.RunMetadata;
    const last = step === steps - 1;
    const [loss] = await s.run([m.loss], feeds, m.train, { trace: last, metadata });
    writer.scalar("loss", loss.data[0] as number, step);
    // The placement's explanations travel in the trace (session.explainPlacement's seam).
    const placement = { "dense/MatMul": "requested /device:TPU:0, which has a MatMul kernel" };
    if (last) await ef.saveChromeTrace(`${logdir}/step.trace.json`, metadata.trace!, { placement });
  }
  await writeVariableHistograms(writer, s, m.variables, steps - 1);
  writer.image(
    "inputs",
    ef.tensor((batch.images.data as Float32Array).slice(0, 3 * 64), [3, 8, 8, 1]),
    0,
  );
  writer.text("run", "digits-like CNN, SGD lr 0.1", 0);
  await writer.close();
  return graphNodes;
}

Deno.test("board: the page draws the graph by device, the curves and the step timeline", async (t) => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    // .ci/run installs chromium: in CI its absence fails; elsewhere the skip is printed.
    reportMissing(t, `${CHROMIUM} is missing (apt-get install chromium)`);
    return;
  }
  const { chromium } = await import("npm:playwright-core@1.49.1");
  const logdir = await Deno.makeTempDir();
  const board = serveBoard(logdir, 0);
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const graphNodes = await trainInto(logdir);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e: Error) => errors.push(e.message));
    await page.goto(board.url);
    await page.waitForSelector("body[data-ready]", { timeout: 20_000 });
    assert.equal(await page.getAttribute("body", "data-ready"), "true", errors.join("; "));
    assert.deepEqual(errors, []);

    const nodes: [string, string][] = await page.$$eval(
      "#graph-svg g.node",
      (gs) => gs.map((g) => [g.getAttribute("data-name"), g.getAttribute("data-device")]),
    );
    assert.equal(nodes.length, graphNodes);
    const device = new Map(nodes);
    assert.equal(device.get("dense/MatMul"), "TPU:0");
    assert.equal(device.get("conv/Conv2D"), "WASM:0");
    const legend = await page.textContent("#legend");
    assert.match(legend!, /TPU:0/);
    assert.match(legend!, /WASM:0/);
    await page.hover('#graph-svg g.node[data-name="dense/MatMul"]');
    const tip = await page.textContent("#tip");
    assert.match(tip!, /op: MatMul\nrequested: \/device:TPU:0\nassigned: .*TPU:0/);
    assert.match(tip!, /placement: requested \/device:TPU:0, which has a MatMul kernel/);

    assert.equal(await page.locator('#curves svg.curve[data-tag="loss"] path').count(), 1);
    assert.equal(await page.locator("#histos svg.histogram").count(), 3);
    assert.equal(await page.locator("#imgs img.summary").count(), 3);
    assert.match((await page.textContent("#text"))!, /digits-like CNN/);
    const slices = await page.locator("#timeline-svg rect.slice").count();
    assert.ok(slices > 20, `${slices} timeline slices`);
    assert.ok(await page.locator("#timeline-svg line.flow").count() > 0, "copies drawn as flows");
    assert.match((await page.textContent("#timeline-box"))!, /\(sim\)/);

    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const shot = new URL("board.png", ARTIFACTS);
    await page.screenshot({ path: shot.pathname, fullPage: true });
    await Deno.copyFile(`${logdir}/step.trace.json`, new URL("digits_step.trace.json", ARTIFACTS));
    assert.ok((await Deno.stat(shot)).size > 10_000);
  } finally {
    await browser.close();
    await board.shutdown();
    await Deno.remove(logdir, { recursive: true });
  }
});
