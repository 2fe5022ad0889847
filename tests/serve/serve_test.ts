// examples/serve.ts as a subprocess with README.md's least permissions, on a loopback port: good
// JSON and binary requests answer what REF computes, concurrent requests are batched and each
// equals its unbatched answer, and malformed, oversized or misrouted requests get a 4xx with a
// message while the server keeps serving.
import assert from "node:assert/strict";
import { fixtureInput, referenceProbs, writeFixtureModel } from "./model_fixture.ts";
import { type ServerProcess, startServer } from "./server_process.ts";
import { reportMissing } from "../kernels/devices.ts";

const MAX_BODY = 64 * 1024;

function close(actual: number[][], expected: number[][], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: rows`);
  actual.forEach((row, r) =>
    row.forEach((v, c) =>
      assert.ok(
        Math.abs(v - expected[r][c]) <= tol,
        `${what}: [${r}][${c}] is ${v}, expected ${expected[r][c]}`,
      )
    )
  );
}

async function predict(
  server: ServerProcess,
  body: BodyInit,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${server.url}/predict`, { method: "POST", body, headers });
  return { status: r.status, json: await r.json() };
}

const probsOf = (json: Record<string, unknown>) =>
  (json.outputs as Record<string, number[][]>).probs;

async function withServer(
  model: string,
  extra: string[],
  f: (s: ServerProcess) => Promise<void>,
): Promise<void> {
  const server = await startServer(model, ["--max-body-bytes", String(MAX_BODY), ...extra]);
  try {
    await f(server);
  } finally {
    // Mesa's software adapters warn about a missing XDG_RUNTIME_DIR on stderr: not the server's.
    const stderr = (await server.stop()).split("\n").filter((l) => !l.includes("XDG_RUNTIME_DIR"))
      .join("\n");
    assert.doesNotMatch(stderr, /error|panic/i, stderr);
  }
}

const fixture = await writeFixtureModel();

Deno.test({
  name: "serve: a tfjs graph model on WASM with 2 threads, least permissions",
  sanitizeResources: false,
  async fn(t) {
    await withServer(fixture.dir, ["--threads", "2", "--window-ms", "5"], async (server) => {
      await t.step("GET /health names the signature", async () => {
        const r = await fetch(`${server.url}/health`);
        const h = await r.json();
        assert.equal(r.status, 200);
        assert.equal(h.status, "ok");
        // The WASM workers started under the least permissions.
        assert.deepEqual(h.device, { type: "WASM", threads: 2 });
        assert.deepEqual(h.inputs, [{ key: "x", dtype: "float32", shape: [-1, 6, 6, 2] }]);
      });

      await t.step("JSON in, JSON out, equal to REF", async () => {
        const x = fixtureInput(2, 1);
        const { status, json } = await predict(server, JSON.stringify({ inputs: { x } }));
        assert.equal(status, 200, JSON.stringify(json));
        close(probsOf(json), await referenceProbs(fixture.graph, x), 1e-5, "json");
      });

      await t.step("a binary tensor body, and a binary answer", async () => {
        const x = fixtureInput(1, 2);
        const bytes = new Uint8Array(new Float32Array(x.flat(3)).buffer);
        const r = await fetch(`${server.url}/predict`, {
          method: "POST",
          body: bytes,
          headers: {
            "content-type": "application/octet-stream",
            "x-shape": "1,6,6,2",
            "accept": "application/octet-stream",
          },
        });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("x-shape"), "1,5");
        assert.equal(r.headers.get("x-dtype"), "float32");
        const probs = Array.from(new Float32Array(await r.arrayBuffer()));
        close([probs], await referenceProbs(fixture.graph, x), 1e-5, "binary");
      });

      await t.step("concurrent requests: batched, each equal to its unbatched answer", async () => {
        const inputs = Array.from({ length: 12 }, (_, i) => fixtureInput(1 + (i % 3), 10 + i));
        // One at a time first: each request runs alone.
        const alone: number[][][] = [];
        for (const x of inputs) {
          alone.push(probsOf((await predict(server, JSON.stringify({ inputs: { x } }))).json));
        }
        const before = (await (await fetch(`${server.url}/health`)).json()).stats;
        const together = await Promise.all(
          inputs.map((x) => predict(server, JSON.stringify({ inputs: { x } }))),
        );
        const after = (await (await fetch(`${server.url}/health`)).json()).stats;
        together.forEach(({ status, json }, i) => {
          assert.equal(status, 200);
          close(probsOf(json), alone[i], 1e-6, `request ${i}`);
        });
        assert.ok(after.largestBatch > 1, `no batch formed: ${JSON.stringify(after)}`);
        assert.ok(after.runs - before.runs < inputs.length, JSON.stringify({ before, after }));
      });

      await t.step("bad requests in a concurrent burst get 400; the good ones answer", async () => {
        const good = fixtureInput(1, 30);
        const bodies = [
          JSON.stringify({ inputs: { x: good } }),
          JSON.stringify({ inputs: { x: [[1, 2]] } }),
          JSON.stringify({ inputs: { x: good.map(() => "text") } }),
          JSON.stringify({ inputs: { x: good } }),
        ];
        const answers = await Promise.all(bodies.map((b) => predict(server, b)));
        assert.deepEqual(answers.map((a) => a.status), [200, 400, 400, 200]);
        assert.match(String(answers[1].json.error), /shape \[1,2\].*\[\?,6,6,2\]/);
        const want = await referenceProbs(fixture.graph, good);
        close(probsOf(answers[0].json), want, 1e-5, "good 0");
        close(probsOf(answers[3].json), want, 1e-5, "good 3");
      });

      await t.step("malformed requests get a 4xx with a message", async () => {
        const cases: [BodyInit, Record<string, string>, number, RegExp][] = [
          ["{not json", { "content-type": "application/json" }, 400, /not JSON/],
          ['{"x": 1}', { "content-type": "application/json" }, 400, /"inputs"/],
          ['{"inputs": {"y": [1]}}', { "content-type": "application/json" }, 400, /no input 'y'/],
          ['{"inputs": {}}', { "content-type": "application/json" }, 400, /'x' is missing/],
          [
            '{"inputs": {"x": [[[[1, null]]]]}}',
            { "content-type": "application/json" },
            400,
            /input 'x'/,
          ],
          ["x=1", { "content-type": "application/x-www-form-urlencoded" }, 415, /content-type/],
          [
            new Uint8Array(12),
            { "content-type": "application/octet-stream", "x-shape": "1,6,6,2" },
            400,
            /needs 288 bytes, the body has 12/,
          ],
          [new Uint8Array(4), { "content-type": "application/octet-stream" }, 400, /x-shape/],
          [
            new Uint8Array(4),
            { "content-type": "application/octet-stream", "x-shape": "1", "x-dtype": "int32" },
            400,
            /float32/,
          ],
        ];
        for (const [body, headers, status, message] of cases) {
          const a = await predict(server, body, headers);
          assert.equal(a.status, status, `${body}: ${JSON.stringify(a.json)}`);
          assert.match(String(a.json.error), message);
        }
        const notFound = await fetch(`${server.url}/nothing`);
        assert.equal(notFound.status, 404);
        await notFound.body?.cancel();
        const wrongMethod = await fetch(`${server.url}/predict`);
        assert.equal(wrongMethod.status, 405);
        await wrongMethod.body?.cancel();
      });

      await t.step("a body over the limit gets 413, declared or streamed", async () => {
        const big = new Uint8Array(MAX_BODY + 1).fill(32);
        const declared = await predict(server, big);
        assert.equal(declared.status, 413);
        assert.match(String(declared.json.error), /limit/);
        // No Content-Length: the server stops reading at the limit.
        let sent = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(c) {
            if (sent > 4 * MAX_BODY) return c.close();
            sent += 16384;
            c.enqueue(new Uint8Array(16384).fill(32));
          },
        });
        const streamed = await predict(server, stream);
        assert.equal(streamed.status, 413);
        assert.match(String(streamed.json.error), /limit/);
      });

      await t.step("and it still serves", async () => {
        const x = fixtureInput(1, 40);
        const { status, json } = await predict(server, JSON.stringify({ inputs: x }));
        assert.equal(status, 200);
        close(probsOf(json), await referenceProbs(fixture.graph, x), 1e-5, "after");
      });
    });
  },
});

for (const file of ["model.pb", "model.onnx"]) {
  Deno.test({
    name: `serve: ${file} with batching off answers the same`,
    sanitizeResources: false,
    fn: () =>
      withServer(`${fixture.dir}/${file}`, ["--batching", "off"], async (server) => {
        const inputs = [fixtureInput(1, 50), fixtureInput(2, 51)];
        const answers = await Promise.all(
          inputs.map((x) => predict(server, JSON.stringify({ inputs: { x } }))),
        );
        for (const [i, { status, json }] of answers.entries()) {
          assert.equal(status, 200);
          close(
            probsOf(json),
            await referenceProbs(fixture.graph, inputs[i]),
            1e-5,
            `${file} ${i}`,
          );
        }
        const stats = (await (await fetch(`${server.url}/health`)).json()).stats;
        assert.equal(stats.largestBatch, 1);
        assert.equal(stats.runs, 2);
      }),
  });
}

Deno.test({
  name: "serve: on WEBGPU with the same permissions, batched and alone equal to REF",
  sanitizeResources: false,
  async fn(t) {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return reportMissing(t, "no WebGPU adapter on this machine");
    await withServer(fixture.dir, ["--device", "WEBGPU", "--window-ms", "5"], async (server) => {
      const inputs = [fixtureInput(1, 60), fixtureInput(2, 61), fixtureInput(1, 62)];
      const answers = await Promise.all(
        inputs.map((x) => predict(server, JSON.stringify({ inputs: { x } }))),
      );
      for (const [i, { status, json }] of answers.entries()) {
        assert.equal(status, 200, JSON.stringify(json));
        close(probsOf(json), await referenceProbs(fixture.graph, inputs[i]), 1e-5, `gpu ${i}`);
      }
      const h = await (await fetch(`${server.url}/health`)).json();
      assert.equal(h.device.type, "WEBGPU");
    });
  },
});

Deno.test("serve: a file that is not a model stops the server with a message", async () => {
  const bad = await Deno.makeTempFile({ suffix: ".txt" });
  await assert.rejects(
    startServer(bad),
    /tfjs graph model .*, a frozen GraphDef .* or an ONNX model/,
  );
  await Deno.remove(bad);
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(fixture.dir, { recursive: true });
});
