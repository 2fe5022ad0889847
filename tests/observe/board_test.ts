// The board in headless Chromium (Debian's /usr/bin/chromium through playwright-core):
// - the digits example itself (examples/train_digits.ts --logdir, one epoch) is served: the page
//   draws the example's model graph, its training curves from the event files and the step
//   timeline from its trace; screenshot tests/artifacts/board.png, the trace is kept as
//   tests/artifacts/train_digits_step.trace.json (both git-ignored);
// - a few SGD steps of a digits-like CNN with its dense layer on the TPU: nodes coloured by
//   device, the placement explanation on hover, copies as flows; tests/artifacts/board_tpu.png.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { buildDigitsModel } from "../../examples/digits_model.ts";
import { SummaryWriter, writeVariableHistograms } from "../../summary.ts";
import { serveBoard } from "../../tools/board/server.ts";
import { reportMissing } from "../kernels/devices.ts";
import { digitsBatch, digitsCnn } from "./digits_cnn.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../artifacts/", import.meta.url);
const ROOT = new URL("../../", import.meta.url).pathname;

type Browser = NonNullable<Awaited<ReturnType<typeof launch>>>;
type Page = Awaited<ReturnType<Browser["newPage"]>>;

/** Chromium through playwright-core, or undefined (the skip reported) where it is missing. */
async function launch(t: Deno.TestContext) {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    // .ci/run installs chromium: in CI its absence fails; elsewhere the skip is printed.
    reportMissing(t, `${CHROMIUM} is missing (apt-get install chromium)`);
    return undefined;
  }
  const { chromium } = await import("npm:playwright-core@1.49.1");
  return await chromium.launch({ executablePath: CHROMIUM });
}

/** Opens the board at `url` and waits for it to draw everything, without page errors. */
async function openBoard(browser: Browser, url: string) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on("pageerror", (e: Error) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready]", { timeout: 20_000 });
  assert.equal(await page.getAttribute("body", "data-ready"), "true", errors.join("; "));
  assert.deepEqual(errors, []);
  return page;
}

/** The drawn graph's nodes: name → device label. */
async function drawnNodes(page: Page): Promise<Map<string, string>> {
  const nodes: [string, string][] = await page.$$eval(
    "#graph-svg g.node",
    (gs) => gs.map((g) => [g.getAttribute("data-name")!, g.getAttribute("data-device")!]),
  );
  return new Map(nodes);
}

async function screenshot(page: Page, name: string) {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const shot = new URL(name, ARTIFACTS);
  await page.screenshot({ path: shot.pathname, fullPage: true });
  assert.ok((await Deno.stat(shot)).size > 10_000);
}

Deno.test("board: the digits example's graph, training curves and step timeline", async (t) => {
  const browser = await launch(t);
  if (!browser) return;
  const logdir = await Deno.makeTempDir({ prefix: "edgeflow-board-digits-" });
  const board = serveBoard(logdir, 0);
  try {
    // One epoch (22 steps) of the example as a user runs it, summaries into logdir.
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--lock=deno.lock",
        "examples/train_digits.ts",
        "--max-epochs",
        "1",
        "--out",
        `${logdir}/checkpoint`,
        "--logdir",
        logdir,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.ok(run.success, said);
    assert.match(said, /wrote summaries and .*step\.trace\.json/);

    const page = await openBoard(browser, board.url);
    // By default the traced step's nodes, all of them run on a device.
    assert.equal(await page.getAttribute("#graph-scope", "data-scope"), "step");
    const step = await drawnNodes(page);
    assert.ok(step.size > 100, `${step.size} nodes in the traced step`);
    assert.ok(![...step.values()].includes("unplaced"));
    assert.equal(step.get("conv2d/Conv2D"), "WASM:0");
    // The step runs Adam on every weight (the gradient ops are the part of the graph it adds).
    assert.ok(step.has("Adam/update_conv2d_kernel/ResourceApplyAdam"));
    assert.ok(step.has("gradients/conv2d/Conv2D_grad/Conv2DBackpropFilter"));
    // The whole graph holds every node of the example's model (digits_model.ts builds it).
    await page.click("#graph-scope");
    assert.equal(await page.getAttribute("#graph-scope", "data-scope"), "all");
    const all = await drawnNodes(page);
    const model = buildDigitsModel().graph.nodes.map((n) => n.name);
    assert.deepEqual(model.filter((n) => !all.has(n)), []);
    await page.click("#graph-scope");
    // The placement's explanation (session.explainPlacement) travels in the trace to the hover.
    await page.hover('#graph-svg g.node[data-name="conv2d/Conv2D"]');
    const tip = (await page.textContent("#tip"))!;
    assert.match(tip, /op: Conv2D\nrequested: \(none\)\nassigned: .*WASM:0\nplacement: /);
    assert.doesNotMatch(tip, /no explanation recorded/);

    for (const tag of ["loss", "accuracy", "test_accuracy"]) {
      assert.equal(
        await page.locator(`#curves svg.curve[data-tag="${tag}"] path`).count(),
        1,
        `curve ${tag}`,
      );
    }
    // One histogram per trainable variable (4 layers × kernel and bias), 3 input images.
    assert.equal(await page.locator("#histos svg.histogram").count(), 8);
    assert.equal(await page.locator("#imgs img.summary").count(), 3);
    assert.match((await page.textContent("#text"))!, /digits CNN on WASM, Adam lr 1e-3, batch 64/);
    const kernels = await page.$$eval(
      "#timeline-svg rect.slice",
      (rs) => rs.filter((r) => Number(r.getAttribute("opacity") ?? 1) > 0.5).length,
    );
    assert.ok(kernels > 100, `${kernels} timeline slices drawn as work`);
    assert.match((await page.textContent("#timeline-box"))!, /WASM:0 · kernels/);

    await screenshot(page, "board.png");
    await Deno.copyFile(
      `${logdir}/step.trace.json`,
      new URL("train_digits_step.trace.json", ARTIFACTS),
    );
  } finally {
    await browser.close();
    await board.shutdown();
    await Deno.remove(logdir, { recursive: true });
  }
});

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
  const browser = await launch(t);
  if (!browser) return;
  const logdir = await Deno.makeTempDir();
  const board = serveBoard(logdir, 0);
  try {
    const graphNodes = await trainInto(logdir);
    const page = await openBoard(browser, board.url);
    // The whole graph (the initializer's nodes are not in the traced step).
    if (await page.getAttribute("#graph-scope", "data-scope") === "step") {
      await page.click("#graph-scope");
    }
    const device = await drawnNodes(page);
    assert.equal(device.size, graphNodes);
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

    await screenshot(page, "board_tpu.png");
    await Deno.copyFile(`${logdir}/step.trace.json`, new URL("digits_step.trace.json", ARTIFACTS));
  } finally {
    await browser.close();
    await board.shutdown();
    await Deno.remove(logdir, { recursive: true });
  }
});
