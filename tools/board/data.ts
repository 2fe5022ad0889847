/**
 * What the board shows, gathered from a log directory: every event file (in the directory and
 * its subdirectories, one run per directory) through the independent reader, and the newest
 * Chrome trace file (`*.trace.json`). Images go to the page as base64 PNG.
 */
import { encodeBase64 } from "./base64.ts";
import { type EventFile, type GraphNode, readEventFile } from "./event_reader.ts";

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

/** Per tag: drops `into`'s points at or after `from`'s first step, then appends `from`'s. */
function purgeAndAppend<P>(
  into: Record<string, P[]>,
  from: Record<string, P[]>,
  stepOf: (p: P) => number,
) {
  for (const [tag, points] of Object.entries(from)) {
    const first = Math.min(...points.map(stepOf));
    into[tag] = [...(into[tag] ?? []).filter((p) => stepOf(p) < first), ...points];
  }
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
    const files: (EventFile & { path: string })[] = [];
    for (const path of eventFiles) {
      try {
        const file = readEventFile(await Deno.readFile(path), path);
        if (file.truncated) run.problems.push(`${path}: the last record is cut short`);
        files.push({ ...file, path });
      } catch (e) {
        run.problems.push(`${path}: ${(e as Error).message}`);
      }
    }
    // Oldest writer first (by its first event's time; the file name breaks ties).
    const started = (f: EventFile) => f.events[0]?.wallTime ?? 0;
    files.sort((a, b) => started(a) - started(b) || (a.path < b.path ? -1 : 1));
    for (const file of files) {
      const part: RunData = { ...run, scalars: {}, histograms: {}, images: {}, text: {} };
      for (const ev of file.events) {
        if (ev.graph) data.graph = ev.graph;
        for (const v of ev.values ?? []) {
          const step = ev.step;
          if (v.scalar !== undefined) (part.scalars[v.tag] ??= []).push([step, v.scalar]);
          if (v.histogram) {
            const { bucketLimit, bucket } = v.histogram;
            (part.histograms[v.tag] ??= []).push({ step, bucketLimit, bucket });
          }
          if (v.image) {
            const { width, height, png } = v.image;
            (part.images[v.tag] ??= []).push({ step, width, height, png: encodeBase64(png) });
          }
          if (v.text) (part.text[v.tag] ??= []).push({ step, text: v.text.join("\n") });
        }
      }
      // A later writer in the same directory (a rerun, or a restart from a checkpoint) replaces
      // what earlier ones wrote from its first step on, as TensorBoard purges orphaned data:
      // otherwise two runs into one log dir draw as one zigzag curve.
      purgeAndAppend(run.scalars, part.scalars, (p) => p[0]);
      purgeAndAppend(run.histograms, part.histograms, (p) => p.step);
      purgeAndAppend(run.images, part.images, (p) => p.step);
      purgeAndAppend(run.text, part.text, (p) => p.step);
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
