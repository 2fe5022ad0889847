/**
 * `deno task board [logdir] [--port N]`: serves the board, a page that shows a log directory's
 * graph (nodes coloured by device, placement on hover), training curves, histograms, images and
 * text from its event files, and the step timeline of its newest trace file. The data is read
 * afresh on every load, so a running training shows up on reload.
 */
import { loadBoardData } from "./data.ts";

const STATIC: Record<string, [string, string]> = {
  "/": ["page.html", "text/html; charset=utf-8"],
  "/board.js": ["board.js", "text/javascript; charset=utf-8"],
};

export interface BoardServer {
  readonly url: string;
  shutdown(): Promise<void>;
}

/** Starts the board on `port` (0: any free port) of localhost. */
export function serveBoard(logdir: string, port = 6006): BoardServer {
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/api/data") {
      try {
        return Response.json(await loadBoardData(logdir));
      } catch (e) {
        return Response.json({ error: (e as Error).message }, { status: 500 });
      }
    }
    const file = STATIC[path];
    if (!file) return new Response("not found", { status: 404 });
    const body = await Deno.readFile(new URL(file[0], import.meta.url));
    return new Response(body, { headers: { "content-type": file[1] } });
  });
  const { port: bound } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${bound}/`, shutdown: () => server.shutdown() };
}

if (import.meta.main) {
  const args = [...Deno.args];
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args.splice(at, 2)[1]) : 6006;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`board: --port takes a port number, got ${Deno.args[at + 1]}`);
    Deno.exit(1);
  }
  const logdir = args[0] ?? "logs";
  try {
    await Deno.stat(logdir);
  } catch {
    console.error(`board: no log directory ${logdir} (give one: deno task board <logdir>)`);
    Deno.exit(1);
  }
  const { url } = serveBoard(logdir, port);
  console.log(`board: ${logdir} at ${url}`);
}
