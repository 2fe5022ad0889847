// `deno task loc`: lines of TypeScript, C, WAT and WGSL per folder, so growth is seen.
const EXTENSIONS = [".ts", ".c", ".h", ".wat", ".wgsl"];
const SKIP = new Set(["node_modules", ".git"]);
const counts = new Map<string, { files: number; lines: number }>();

async function walk(dir: string) {
  for await (const entry of Deno.readDir(dir)) {
    const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && !SKIP.has(entry.name) && !entry.name.startsWith(".")) await walk(path);
    else if (
      entry.isFile && EXTENSIONS.some((e) => entry.name.endsWith(e)) &&
      !entry.name.endsWith("_wasm.ts")
    ) {
      const text = await Deno.readTextFile(path);
      const c = counts.get(dir) ?? { files: 0, lines: 0 };
      c.files++;
      c.lines += text.split("\n").length;
      counts.set(dir, c);
    }
  }
}

await walk(".");
let total = 0;
for (const [dir, c] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(
    `${dir.padEnd(28)} ${String(c.files).padStart(4)} files ${String(c.lines).padStart(7)} lines`,
  );
  total += c.lines;
}
console.log(`${"total".padEnd(28)} ${String(total).padStart(19)} lines`);
