/**
 * The edge function as one file: `deno task build:serve` bundles examples/serve.ts with everything
 * it imports (deno bundle, esbuild: fetched from npm once, then cached) into dist/serve.js, which
 * starts with one module to load instead of some 330 (README.md, "Serving"; its cold start is in
 * bench/edge.ts's `ef-wasm-*-bundle` rows). The WASM device's workers still start from
 * devices/wasm/worker.ts (node:worker_threads runs a module file per worker): the bundle's one
 * reference to it is rewritten from the pool's directory to the bundle's.
 *
 *   deno task build:serve [--out dist/serve.js]
 */
const ROOT = new URL("../", import.meta.url);

/** The bundle's path from `out`'s directory to devices/wasm/worker.ts. */
function workerPath(out: URL): string {
  const from = new URL(".", out).pathname.split("/").filter(Boolean);
  const to = new URL("devices/wasm/worker.ts", ROOT).pathname.split("/").filter(Boolean);
  let k = 0;
  while (k < from.length && k < to.length - 1 && from[k] === to[k]) k++;
  const up = from.length - k;
  return `${up === 0 ? "./" : "../".repeat(up)}${to.slice(k).join("/")}`;
}

/** Bundles examples/serve.ts into `out` (default dist/serve.js); returns its path. */
export async function bundleServe(out = new URL("dist/serve.js", ROOT)): Promise<string> {
  await Deno.mkdir(new URL(".", out), { recursive: true });
  const tmp = `${out.pathname}.${Deno.pid}.tmp`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      `--lock=${new URL("deno.lock", ROOT).pathname}`,
      "--platform",
      "deno",
      "--minify",
      // Class and function names stay: errors and traces name them.
      "--keep-names",
      "-o",
      tmp,
      new URL("examples/serve.ts", ROOT).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(r.stderr)}`);
  }
  const code = await Deno.readTextFile(tmp);
  // The pool's worker module, relative to the pool (devices/wasm/pool.ts): exactly one.
  const ref = /new URL\((["'`])\.\/worker\.ts\1,\s*import\.meta\.url\)/g;
  const found = code.match(ref)?.length ?? 0;
  if (found !== 1) {
    await Deno.remove(tmp);
    throw new Error(`the bundle refers to the WASM worker module ${found} times, expected once`);
  }
  await Deno.writeTextFile(
    tmp,
    code.replace(ref, `new URL(${JSON.stringify(workerPath(out))},import.meta.url)`),
  );
  await Deno.rename(tmp, out);
  return out.pathname;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const path = await bundleServe(
    i >= 0 ? new URL(Deno.args[i + 1], `file://${Deno.cwd()}/`) : undefined,
  );
  console.log(`${path}: ${(await Deno.stat(path)).size} bytes`);
}
