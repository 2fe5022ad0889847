// A tiny static file server for tests: serves a directory on a loopback port with TypeScript's
// media type, refuses paths that climb out, and records every path asked for.
export interface FileServer {
  readonly url: string;
  readonly port: number;
  /** Every request's path, in order. */
  readonly requested: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

export function serveDirectory(root: string): FileServer {
  const requested: string[] = [];
  const base = root.replace(/\/+$/, "");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requested.push(path);
    if (path.split("/").includes("..")) return new Response("no", { status: 403 });
    try {
      const body = await Deno.readFile(base + path);
      const ext = path.slice(path.lastIndexOf("."));
      return new Response(body, {
        headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requested,
    close: () => server.shutdown(),
  };
}
