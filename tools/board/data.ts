/**
 * What the board shows, gathered from a log directory: every event file (in the directory and
 * its subdirectories, one run per directory) through the independent reader, and the newest
 * Chrome trace file (`*.trace.json`). Images go to the page as base64 PNG.
 */
import { encodeBase64 } from "./base64.ts";
import { type GraphNode, readEventFile } from "./event_reader.ts";

export interface RunData {
  /** The directory relative to the log dir ("." for the log dir itself). */
  name: string;
  /** Per tag: [step, value] in step order. */
  scalars: Record<string, [number, number][]>;
  histograms: Record<string, { step: number; bucketLimit: number[]; bucket: number[] }[]>;
  images: Record<string, { step: number; width: number; height: number; png: string }[]>;
  text: Record<string, { step: number; text: string }[]>;
  /** Files that were cut short (a writer still running) or unreadable, with the reason. */
  problems: string[];
}

export interface BoardData {
  logdir: string;
  runs: RunData[];
  /** The newest run's graph, if any run wrote one. */
  graph?: GraphNode[];
  /** The newest trace file's contents, and its name. */
  trace?: unknown;
  traceFile?: string;
}

export async function loadBoardData(logdir: string): Promise<BoardData> {
  const data: BoardData = { logdir, runs: [] };
  let newestTrace: { path: string; mtime: number } | undefined;
  const dirs = [""];
  for (let d = 0; d < dirs.length; d++) {
    const rel = dirs[d];
    const dir = rel ? `${logdir}/${rel}` : logdir;
    const eventFiles: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) dirs.push(rel ? `${rel}/${e.name}` : e.name);
      else if (e.name.startsWith("events.out.tfevents.")) eventFiles.push(path);
      else if (e.name.endsWith(".trace.json")) {
        const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
        if (!newestTrace || mtime >= newestTrace.mtime) newestTrace = { path, mtime };
      }
    }
    if (eventFiles.length === 0) continue;
    const run: RunData = {
      name: rel || ".",
      scalars: {},
      histograms: {},
      images: {},
      text: {},
      problems: [],
    };
    for (const path of eventFiles.sort()) {
      let file;
      try {
        file = readEventFile(await Deno.readFile(path), path);
      } catch (e) {
        run.problems.push(`${path}: ${(e as Error).message}`);
        continue;
      }
      if (file.truncated) run.problems.push(`${path}: the last record is cut short`);
      for (const ev of file.events) {
        if (ev.graph) data.graph = ev.graph;
        for (const v of ev.values ?? []) {
          const step = ev.step;
          if (v.scalar !== undefined) (run.scalars[v.tag] ??= []).push([step, v.scalar]);
          if (v.histogram) {
            const { bucketLimit, bucket } = v.histogram;
            (run.histograms[v.tag] ??= []).push({ step, bucketLimit, bucket });
          }
          if (v.image) {
            const { width, height, png } = v.image;
            (run.images[v.tag] ??= []).push({ step, width, height, png: encodeBase64(png) });
          }
          if (v.text) (run.text[v.tag] ??= []).push({ step, text: v.text.join("\n") });
        }
      }
    }
    for (const points of Object.values(run.scalars)) points.sort((a, b) => a[0] - b[0]);
    data.runs.push(run);
  }
  if (newestTrace) {
    data.trace = JSON.parse(await Deno.readTextFile(newestTrace.path));
    data.traceFile = newestTrace.path;
  }
  return data;
}
