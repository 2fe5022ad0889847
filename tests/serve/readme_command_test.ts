// README.md's serving commands, run as written there (from the repository's root, MODEL_DIR the
// fixture model, port 8080 a free one): examples/serve.ts, and the bundle `deno task build:serve`
// writes to dist/serve.js. Each must start with exactly those permissions, WASM workers included,
// and answer what REF computes.
import assert from "node:assert/strict";
import { fixtureInput, referenceProbs, writeFixtureModel } from "./model_fixture.ts";
import { freePort, untilListening } from "./server_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The ```sh blocks of README.md that run examples/serve.ts or its bundle, as command lines. */
async function readmeServeBlocks(): Promise<string[][]> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.filter((b) => /serve\.(ts|js)/.test(b)).map((b) =>
    b.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "")
  );
}

function command(line: string, model: string, port: number): Deno.Command {
  const args = line.replaceAll("MODEL_DIR", model).replaceAll("8080", String(port)).split(/\s+/);
  assert.equal(args[0], "deno", line);
  return new Deno.Command(Deno.execPath(), {
    args: args.slice(1),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
}

const blocks = await readmeServeBlocks();
const fixture = await writeFixtureModel();

Deno.test("README.md shows both serving commands", () => {
  const entries = blocks.map((b) => b.at(-1)!.match(/\S*serve\.(?:ts|js)/)?.[0]);
  assert.deepEqual(entries, ["examples/serve.ts", "dist/serve.js"]);
});

for (const block of blocks) {
  const entry = block.at(-1)!.match(/\S*serve\.(?:ts|js)/)![0];
  Deno.test({
    name: `README.md's command serving ${entry} runs as written`,
    sanitizeResources: false,
    async fn() {
      const port = freePort();
      // Steps before the server (building the bundle) run to completion first.
      for (const line of block.slice(0, -1)) {
        const r = await command(line, fixture.dir, port).output();
        assert.ok(r.success, `${line}:\n${new TextDecoder().decode(r.stderr)}`);
      }
      const server = command(block.at(-1)!, fixture.dir, port).spawn();
      // Its stderr, once it exits (a server that never listens throws with it instead).
      let stderr = Promise.resolve("");
      try {
        stderr = (await untilListening(server, entry)).stderr;
        const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
        // The README's --threads 2: the worker started under the README's read permissions.
        assert.deepEqual(health.device, { type: "WASM", threads: 2 });
        const x = fixtureInput(2, 7);
        const r = await fetch(`http://127.0.0.1:${port}/predict`, {
          method: "POST",
          body: JSON.stringify({ inputs: { x } }),
          headers: { "content-type": "application/json" },
        });
        const json = await r.json();
        assert.equal(r.status, 200, JSON.stringify(json));
        const want = await referenceProbs(fixture.graph, x);
        json.outputs.probs.forEach((row: number[], i: number) =>
          row.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= 1e-5, `${v} ${want[i][j]}`))
        );
      } finally {
        server.kill("SIGTERM");
        await server.status;
        await server.stdout.cancel().catch(() => {});
        const err = await stderr;
        assert.doesNotMatch(err, /error|panic/i, err);
      }
    },
  });
}
