// Real tfjs graph models from the npm registry, fetched at test time with `npm pack` into a
// git-ignored cache (.cache/models/, kept between runs) and never committed: nsfwjs@4.4.0's
// mobilenet_v2_mid (model.json and shards embedded as JS modules: evaluated in a Deno process
// without permissions and written out as plain files) and @vladmandic/human@3.3.6's emotion,
// blazeface and movenet-lightning. An unreachable registry is an Error saying so, never a skip.
/** The cache directory (.gitignore lists it). */
export const CACHE_DIR = decodeURIComponent(
  new URL("../../.cache/models/", import.meta.url).pathname,
);

export interface RealModel {
  /** Path of its model.json in the cache. */
  path: string;
  /** The signature's input: a seeded input of this shape and dtype. */
  input: { name: string; shape: number[]; dtype: "float32" | "int32"; min: number; max: number };
}

const PACKS = {
  nsfwjs: { spec: "nsfwjs@4.4.0", tgz: "nsfwjs-4.4.0.tgz" },
  human: { spec: "@vladmandic/human@3.3.6", tgz: "vladmandic-human-3.3.6.tgz" },
} as const;

async function run(cmd: string, args: string[], cwd: string, stdin?: Uint8Array) {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return out.stdout;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The pack's tarball in the cache, `npm pack`ed once; a clear Error when npm cannot reach it. */
async function pack(which: keyof typeof PACKS): Promise<string> {
  const { spec, tgz } = PACKS[which];
  const path = `${CACHE_DIR}${tgz}`;
  if (await exists(path)) return path;
  await Deno.mkdir(CACHE_DIR, { recursive: true });
  try {
    await run("npm", ["pack", spec, "--pack-destination", CACHE_DIR], CACHE_DIR);
  } catch (e) {
    throw new Error(
      `the real-model tests need ${spec} from the npm registry (npm pack), which failed; ` +
        `check the network or pre-fill ${CACHE_DIR} with ${tgz}.\n${(e as Error).message}`,
    );
  }
  return path;
}

/** Extracts `members` (paths inside the tarball) under `dir` once. */
async function extract(tgz: string, dir: string, members: string[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await run("tar", ["xzf", tgz, "-C", dir, ...members], dir);
}

/**
 * Evaluates a UMD module (nsfwjs's embedded model files) in a Deno process with no permissions
 * and returns its export; the package's code never runs with ours.
 */
async function umdExport(source: Uint8Array): Promise<unknown> {
  const script = `
    const src = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
    const module = { exports: {} };
    new Function("module", "exports", "define", "require", src)(module, module.exports);
    await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(module.exports)));`;
  const out = await run(Deno.execPath(), ["eval", "--no-prompt", script], CACHE_DIR, source);
  return JSON.parse(new TextDecoder().decode(out));
}

/** Writes a file under a temporary name and renames it, so a killed run leaves no half file. */
async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp${Deno.pid}`;
  await Deno.writeFile(tmp, data);
  await Deno.rename(tmp, path);
}

/** nsfwjs's mobilenet_v2_mid as model.json + shard files in the cache. */
export async function mobilenetV2Mid(): Promise<RealModel> {
  const dir = `${CACHE_DIR}nsfwjs-4.4.0/mobilenet_v2_mid/`;
  const path = `${dir}model.json`;
  if (!(await exists(path))) {
    const tgz = await pack("nsfwjs");
    const base = "package/dist/models/mobilenet_v2_mid/";
    const names = ["model", "group1-shard1of2", "group1-shard2of2"];
    const raw = `${CACHE_DIR}nsfwjs-4.4.0/raw/`;
    await extract(tgz, raw, names.map((n) => `${base}${n}.min.js`));
    await Deno.mkdir(dir, { recursive: true });
    for (const n of names.slice(1)) {
      const b64 = await umdExport(await Deno.readFile(`${raw}${base}${n}.min.js`));
      if (typeof b64 !== "string") throw new Error(`${n}.min.js does not export a string`);
      await writeAtomic(`${dir}${n}`, Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    }
    const json = await umdExport(await Deno.readFile(`${raw}${base}model.min.js`));
    await writeAtomic(path, new TextEncoder().encode(JSON.stringify(json)));
    await Deno.remove(raw, { recursive: true });
  }
  return {
    path,
    input: { name: "input:0", shape: [1, 224, 224, 3], dtype: "float32", min: 0, max: 1 },
  };
}

const HUMAN = {
  emotion: { name: "input_1:0", shape: [1, 64, 64, 1], dtype: "float32", min: 0, max: 1 },
  blazeface: { name: "input:0", shape: [1, 256, 256, 3], dtype: "float32", min: -1, max: 1 },
  "movenet-lightning": {
    name: "input:0",
    shape: [1, 192, 192, 3],
    dtype: "int32",
    min: 0,
    max: 255,
  },
} as const;

/** One of human's graph models (model.json and its one .bin) in the cache. */
export async function humanModel(name: keyof typeof HUMAN): Promise<RealModel> {
  const dir = `${CACHE_DIR}human-3.3.6/`;
  const path = `${dir}package/models/${name}.json`;
  if (!(await exists(path)) || !(await exists(path.replace(/json$/, "bin")))) {
    const tgz = await pack("human");
    await extract(tgz, dir, [`package/models/${name}.json`, `package/models/${name}.bin`]);
  }
  return { path, input: { ...HUMAN[name], shape: [...HUMAN[name].shape] } };
}
