/**
 * bench/edge_cold.ts's floor: a Deno.serve that answers "ok" and does nothing else, started with
 * the serving command's V8 flags. Its cold start is what Deno itself costs before any module of
 * Edgeflow or of a model loads.
 *
 *   deno run --allow-net=127.0.0.1:N bench/edge_bare_server.ts --port N
 */
const port = Number(Deno.args[Deno.args.indexOf("--port") + 1]);
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`),
}, () => Response.json({ status: "ok" }));
