// Edgeflow imported by URL: the repository is served on a loopback port, and a script in a temp
// directory outside it imports http://127.0.0.1:PORT/mod.ts with an empty DENO_DIR and only
// --allow-import and --allow-net for that address and --allow-read of the model. It loads a tfjs
// graph model and runs it on WASM with 2 threads (the workers load from the URL module graph; the
// kernels are embedded as base64). Everything fetched is a file of the repository, and nothing
// is fetched once the inference starts beyond the worker's own modules, which are repo files too.
import assert from "node:assert/strict";
import { serveDirectory } from "./file_server.ts";
import { fixtureInput, referenceProbs, writeFixtureModel } from "./model_fixture.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

// keepAlive: the pool's workers are web Workers, which start the worker module's URL itself.
for (const keepAlive of [false, true]) {
  Deno.test({
    name: `a script outside the repo imports mod.ts by URL and runs a model on WASM, 2 threads${
      keepAlive ? ", web Workers" : ""
    }`,
    sanitizeResources: false,
    async fn() {
      const fixture = await writeFixtureModel();
      const work = await Deno.makeTempDir({ prefix: "edgeflow-url-import-" });
      const denoDir = await Deno.makeTempDir({ prefix: "edgeflow-deno-dir-" });
      const files = serveDirectory(ROOT);
      try {
        const x = fixtureInput(2, 7);
        await Deno.writeTextFile(
          `${work}/infer.ts`,
          `import * as ef from "${files.url}/mod.ts";
const model = await ef.loadGraphModel(Deno.args[0]);
await using session = new ef.Session(model.graph, {
  deviceOptions: { WASM: { threads: 2, keepAlive: ${keepAlive} } },
});
const device = await session.device("WASM") as ef.Device & { threads: number };
console.error("RUNNING"); // everything fetched after this is the run's
const y = await session.run(model.outputs[0].name, { [model.inputs[0].name]: ${
            JSON.stringify(x)
          } });
console.log(JSON.stringify({ threads: device.threads, y: y.toArray() }));
`,
        );
        let fetchedBeforeRun = -1;
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-lock",
            `--allow-import=127.0.0.1:${files.port}`,
            `--allow-net=127.0.0.1:${files.port}`,
            `--allow-read=${fixture.dir}`,
            `${work}/infer.ts`,
            `${fixture.dir}/model.json`,
          ],
          cwd: work,
          env: { DENO_DIR: denoDir, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const stderr = (async () => {
          let text = "";
          for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
            if (!text.includes("RUNNING") && (text + chunk).includes("RUNNING")) {
              fetchedBeforeRun = files.requested.length;
            }
            text += chunk;
          }
          return text;
        })();
        const [status, stdout, err] = await Promise.all([
          child.status,
          new Response(child.stdout).text(),
          stderr,
        ]);
        assert.ok(status.success, `the script failed:\n${err}`);
        const out = JSON.parse(stdout) as { threads: number; y: number[][] };
        assert.equal(out.threads, 2, "the WASM workers did not start");
        const want = await referenceProbs(fixture.graph, x);
        out.y.forEach((row, r) =>
          row.forEach((v, c) => assert.ok(Math.abs(v - want[r][c]) < 1e-5, `[${r}][${c}]`))
        );
        // Only the repository's own files were asked for, and each is there.
        assert.ok(files.requested.includes("/mod.ts"));
        assert.ok(files.requested.includes("/devices/wasm/worker.ts"));
        for (const path of files.requested) {
          assert.match(path, /^\/[\w/.-]+\.ts$/, `fetched ${path}`);
          assert.ok((await Deno.stat(ROOT + path.slice(1))).isFile, `fetched ${path}`);
          assert.doesNotMatch(path, /^\/(tests|bench|tools|examples)\//, `fetched ${path}`);
        }
        // The run itself fetched nothing: modules and workers were loaded before it.
        assert.equal(
          files.requested.length,
          fetchedBeforeRun,
          `fetched during the run: ${files.requested.slice(fetchedBeforeRun)}`,
        );
        // No npm package and nothing remote but the repository's files came into the cache.
        for await (const e of Deno.readDir(denoDir)) {
          if (e.name === "npm") {
            for await (const p of Deno.readDir(`${denoDir}/npm`)) assert.fail(`npm/${p.name}`);
          }
        }
      } finally {
        await files.close();
        await Deno.remove(work, { recursive: true });
        await Deno.remove(denoDir, { recursive: true });
        await Deno.remove(fixture.dir, { recursive: true });
      }
    },
  });
}
