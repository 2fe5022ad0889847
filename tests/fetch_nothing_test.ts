// The demo and an import of mod.ts fetch nothing but Edgeflow: the peers (tfjs, onnxruntime-web,
// fast-check, wabt) belong to the benches and tests, which name them with `npm:` specifiers pinned
// by deno.lock; deno.json lists none and leaves the lockfile off, because Deno installs every
// package of a discovered lockfile (and of the config's imports) before running anything.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

/** The files under `dir`, recursively (relative paths). */
async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) files.push(...await filesUnder(`${dir}/${e.name}`, `${prefix}${e.name}/`));
      else files.push(prefix + e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return files;
}

/**
 * Runs deno with an empty cache and returns its output and the packages and remote modules the
 * cache holds afterwards (Deno makes an empty npm/ folder in any case).
 */
async function inFreshCache(args: string[]): Promise<{ stdout: string; fetched: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "edgeflow-deno-dir-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: { DENO_DIR: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `deno ${args.join(" ")} failed:\n${stderr}`);
    const fetched = [
      ...(await filesUnder(`${dir}/npm`)).map((f) => `npm/${f}`),
      ...(await filesUnder(`${dir}/remote`)).map((f) => `remote/${f}`),
    ];
    return { stdout: new TextDecoder().decode(out.stdout), fetched };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task demo with an empty DENO_DIR fetches no npm or remote module", async () => {
  // A lower target keeps the run short; the demo's own test holds it to its accuracy.
  const { stdout, fetched } = await inFreshCache(["task", "demo", "--target", "0.6"]);
  assert.match(stdout, /restored in a fresh session: test accuracy/);
  assert.deepEqual(fetched, []);
});

Deno.test("mod.ts's module graph is Edgeflow's own files only", async () => {
  const { stdout, fetched } = await inFreshCache(["info", "--json", "mod.ts"]);
  const info = JSON.parse(stdout) as {
    modules: { specifier: string }[];
    npmPackages: Record<string, unknown>;
  };
  // Deno's built-in node: modules are part of the runtime, not fetched.
  const foreign = info.modules.map((m) => m.specifier).filter((s) =>
    !s.startsWith("file://") && !s.startsWith("node:")
  );
  assert.deepEqual(foreign, []);
  assert.deepEqual(Object.keys(info.npmPackages), []);
  assert.deepEqual(fetched, []);
});
