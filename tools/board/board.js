// The board page: fetches /api/data (tools/board/data.ts) and draws it as SVG. Plain browser
// JavaScript, no dependencies; `document.body.dataset.ready` is set when everything is drawn.
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41"];

function el(tag, attrs = {}, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

/**
 * One colour per device across graph and timeline; grey for nodes the traced step did not run.
 * The first device of each type has a fixed colour, the same on every page (REF red: a node there
 * is a fallback worth noticing); further devices take the rest of the palette.
 */
const TYPE_COLORS = { WASM: "#1e88e5", REF: "#e53935", TPU: "#43a047", WEBGPU: "#fb8c00" };
const deviceColors = new Map([["unplaced", "#9e9e9e"]]);
function deviceColor(short) {
  if (!deviceColors.has(short)) {
    const type = short.replace(/:\d+$/, "");
    const taken = new Set(deviceColors.values());
    const fixed = TYPE_COLORS[type];
    const color = fixed && !taken.has(fixed)
      ? fixed
      : PALETTE.find((c) => !taken.has(c) && !Object.values(TYPE_COLORS).includes(c)) ??
        PALETTE[deviceColors.size % PALETTE.length];
    deviceColors.set(short, color);
  }
  return deviceColors.get(short);
}

const tip = document.getElementById("tip");
function hover(target, text) {
  target.addEventListener("mouseenter", () => {
    tip.textContent = text();
    tip.style.display = "block";
  });
  target.addEventListener("mousemove", (ev) => {
    // Left of the pointer near the window's right edge, so the text stays readable.
    const right = ev.clientX + 12 + tip.offsetWidth > innerWidth;
    tip.style.left = `${
      Math.max(0, right ? ev.clientX - 12 - tip.offsetWidth : ev.clientX + 12)
    }px`;
    tip.style.top = `${ev.clientY + 12}px`;
  });
  target.addEventListener("mouseleave", () => (tip.style.display = "none"));
}

/** The trace's process names by pid, and each node's device from its kernel slice. */
function traceDevices(trace) {
  const processes = new Map();
  const nodes = new Map();
  for (const e of trace?.traceEvents ?? []) {
    if (e.ph === "M" && e.name === "process_name") processes.set(e.pid, e.args.name);
  }
  for (const e of trace?.traceEvents ?? []) {
    const name = processes.get(e.pid) ?? "";
    if (e.ph === "X" && e.tid === 0 && !name.endsWith("(simulated)")) nodes.set(e.name, name);
  }
  return { processes, nodes };
}

/** A short device label: "/job:localhost/replica:0/task:0/device:WASM:0" → "WASM:0". */
const shortDevice = (d) => (d ? d.replace(/^.*device:/, "") : "unplaced");

/**
 * The graph, nodes coloured by the device the trace ran them on. With `stepOnly` (the default
 * when a trace exists) only the nodes of the traced step are drawn: a training graph's
 * initializers, saver and other unrun nodes otherwise crowd the columns; a button switches.
 */
function drawGraph(all, trace, stepOnly = true) {
  const box = document.getElementById("graph-box");
  box.replaceChildren();
  const scope = document.getElementById("graph-scope");
  scope.hidden = true;
  if (!all || all.length === 0) {
    box.innerHTML = '<p class="empty">No graph in the event files (writer.graph(g)).</p>';
    return;
  }
  const assigned = traceDevices(trace).nodes;
  const inStep = all.filter((n) => assigned.has(n.name));
  const canFilter = inStep.length > 0 && inStep.length < all.length;
  const graph = stepOnly && canFilter ? inStep : all;
  if (canFilter) {
    scope.hidden = false;
    scope.dataset.scope = graph === inStep ? "step" : "all";
    scope.textContent = graph === inStep
      ? `whole graph (${all.length} nodes)`
      : `traced step only (${inStep.length} nodes)`;
    scope.onclick = () => drawGraph(all, trace, graph !== inStep);
  }
  const placement = trace?.otherData?.placement ?? {};
  const byName = new Map(graph.map((n) => [n.name, n]));
  const inputsOf = (n) =>
    n.inputs.map((i) => i.replace(/^\^/, "").replace(/:\d+$/, "")).filter((i) => byName.has(i));
  // Layers by longest path from the sources, memoized.
  const layer = new Map();
  const layerOf = (n, seen = new Set()) => {
    if (layer.has(n.name)) return layer.get(n.name);
    if (seen.has(n.name)) return 0;
    seen.add(n.name);
    const l = Math.max(-1, ...inputsOf(n).map((i) => layerOf(byName.get(i), seen))) + 1;
    layer.set(n.name, l);
    return l;
  };
  for (const n of graph) layerOf(n);
  // Then every node that has readers moves as late as it can: just before its first reader
  // (walking from the deepest layer back). Sources, variable reads and gradient constants
  // otherwise pile up in the first columns, far from where they are used.
  const readersOf = new Map(graph.map((n) => [n.name, []]));
  for (const n of graph) for (const i of inputsOf(n)) readersOf.get(i).push(n.name);
  const deepestFirst = [...graph].sort((a, b) => layer.get(b.name) - layer.get(a.name));
  for (const n of deepestFirst) {
    const readers = readersOf.get(n.name);
    if (readers.length === 0) continue;
    const before = Math.min(...readers.map((r) => layer.get(r))) - 1;
    if (before > layer.get(n.name)) layer.set(n.name, before);
  }
  const columns = [];
  for (const n of graph) (columns[layer.get(n.name)] ??= []).push(n);
  for (let i = 0; i < columns.length; i++) columns[i] ??= [];
  // Order each column by the mean row of its neighbours (barycentre sweeps, forwards then
  // backwards): far fewer crossing edges than the graph's own node order.
  const row = new Map();
  const number = () => columns.forEach((col) => col.forEach((n, y) => row.set(n.name, y)));
  number();
  const centre = (n, next) => {
    const near = (next ? readersOf.get(n.name) : inputsOf(n)).filter((m) => row.has(m));
    return near.length === 0 ? row.get(n.name) : near.reduce((s, m) => s + row.get(m), 0) /
      near.length;
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    const forward = sweep % 2 === 0;
    const order = forward ? columns.keys() : [...columns.keys()].reverse();
    for (const c of order) {
      const keyed = columns[c].map((n) => [centre(n, !forward), n]);
      keyed.sort((p, q) => p[0] - q[0]);
      columns[c] = keyed.map(([, n]) => n);
      columns[c].forEach((n, y) => row.set(n.name, y));
    }
  }
  const dx = 150, dy = 34, pos = new Map();
  columns.forEach((col, x) => col.forEach((n, y) => pos.set(n.name, [40 + x * dx, 24 + y * dy])));
  const width = 80 + columns.length * dx;
  const height = 48 + Math.max(...columns.map((c) => c.length)) * dy;
  const svg = el("svg", { id: "graph-svg", width, height, viewBox: `0 0 ${width} ${height}` });
  const deviceOf = (n) => assigned.get(n.name) ?? "";
  const devices = [...new Set(graph.map((n) => shortDevice(deviceOf(n))))].sort();
  const color = (n) => deviceColor(shortDevice(deviceOf(n)));
  for (const n of graph) {
    const [x2, y2] = pos.get(n.name);
    for (const i of inputsOf(n)) {
      const [x1, y1] = pos.get(i);
      el("path", {
        d: `M${x1 + 50},${y1} C${x1 + 90},${y1} ${x2 - 40},${y2} ${x2},${y2}`,
        fill: "none",
        stroke: "#b0bec5",
        class: "edge",
      }, svg);
    }
  }
  for (const n of graph) {
    const [x, y] = pos.get(n.name);
    const g = el("g", {
      class: "node",
      "data-name": n.name,
      "data-device": shortDevice(deviceOf(n)),
    }, svg);
    el("rect", { x, y: y - 11, width: 110, height: 22, rx: 5, fill: color(n), opacity: 0.85 }, g);
    const label = el("text", { x: x + 6, y: y + 4, fill: "#fff", "font-size": 11 }, g);
    label.textContent = n.op.length > 16 ? `${n.op.slice(0, 15)}…` : n.op;
    hover(g, () =>
      [
        n.name,
        `op: ${n.op}`,
        `requested: ${n.device || "(none)"}`,
        `assigned: ${assigned.get(n.name) ?? "(not in the trace)"}`,
        `placement: ${placement[n.name] ?? "(no explanation recorded in the trace)"}`,
      ].join("\n"));
  }
  box.appendChild(svg);
  // A graph wider than the page is shown whole (scaled to fit, colours still tell the devices);
  // the button switches to full size, where the labels are readable, and back.
  const fit = (on) => {
    svg.style.width = on ? "100%" : `${width}px`;
    svg.style.height = on ? "auto" : `${height}px`;
    toggle.textContent = on ? "full size" : "fit to width";
    toggle.dataset.fit = String(on);
  };
  const toggle = document.getElementById("graph-zoom");
  toggle.onclick = () => fit(toggle.dataset.fit !== "true");
  fit(width > box.clientWidth);
  document.getElementById("legend").innerHTML = devices
    .map((d) =>
      `<span><i style="background:${deviceColor(d)}"></i>${
        d === "unplaced" ? "not run in the traced step" : d
      }</span>`
    )
    .join("");
}

function drawCurves(runs) {
  const box = document.getElementById("curves");
  const tags = [...new Set(runs.flatMap((r) => Object.keys(r.scalars)))].sort();
  if (tags.length === 0) box.innerHTML = '<p class="empty">No scalars.</p>';
  for (const tag of tags) {
    const card = document.createElement("div");
    card.className = "card";
    card.innerHTML = `<h3>${tag}</h3>`;
    const W = 320, H = 180, P = 36;
    const svg = el("svg", { width: W, height: H, class: "curve", "data-tag": tag }, card);
    const series = runs.map((r) => r.scalars[tag] ?? []);
    const points = series.flat().filter(([, v]) => Number.isFinite(v));
    const [s0, s1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
    const [v0, v1] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
    const sx = (s) => P + ((s - s0) / (s1 - s0 || 1)) * (W - P - 8);
    const sy = (v) => H - 20 - ((v - v0) / (v1 - v0 || 1)) * (H - 30);
    el("line", { x1: P, y1: H - 20, x2: W - 8, y2: H - 20, stroke: "#999" }, svg);
    el("line", { x1: P, y1: 10, x2: P, y2: H - 20, stroke: "#999" }, svg);
    for (
      const [text, x, y] of [[v1.toPrecision(3), 2, 14], [v0.toPrecision(3), 2, H - 22], [
        s0,
        P,
        H - 6,
      ], [s1, W - 30, H - 6]]
    ) {
      el("text", { x, y, "font-size": 10, fill: "#555" }, svg).textContent = String(text);
    }
    series.forEach((pts, i) => {
      const d = pts.filter(([, v]) => Number.isFinite(v)).map(([s, v], k) =>
        `${k ? "L" : "M"}${sx(s)},${sy(v)}`
      ).join("");
      if (d) {
        el(
          "path",
          { d, fill: "none", stroke: PALETTE[i % PALETTE.length], "stroke-width": 1.5 },
          svg,
        );
      }
      // Sparse series (one point per epoch, or a single point) get dots: a lone point draws no
      // line at all.
      const finite = pts.filter(([, v]) => Number.isFinite(v));
      if (finite.length <= 40) {
        for (const [s, v] of finite) {
          el("circle", { cx: sx(s), cy: sy(v), r: 2.5, fill: PALETTE[i % PALETTE.length] }, svg);
        }
      }
    });
    if (runs.length > 1) {
      const legend = document.createElement("div");
      legend.className = "legend";
      legend.innerHTML = runs.map((r, k) =>
        `<span><i style="background:${PALETTE[k % PALETTE.length]}"></i>${r.name}</span>`
      ).join("");
      card.appendChild(legend);
    }
    box.appendChild(card);
  }
}

function drawHistograms(runs) {
  const box = document.getElementById("histos");
  for (const run of runs) {
    for (const [tag, list] of Object.entries(run.histograms)) {
      const last = list[list.length - 1];
      const card = document.createElement("div");
      card.className = "card";
      card.innerHTML = `<h3>${tag} (step ${last.step})</h3>`;
      const W = 240, H = 120;
      const svg = el("svg", { width: W, height: H, class: "histogram" }, card);
      const top = Math.max(1, ...last.bucket);
      const bw = W / Math.max(1, last.bucket.length);
      last.bucket.forEach((c, i) => {
        const h = (c / top) * (H - 10);
        el(
          "rect",
          { x: i * bw, y: H - h, width: Math.max(1, bw - 1), height: h, fill: "#5c6bc0" },
          svg,
        );
      });
      box.appendChild(card);
    }
  }
  if (!box.children.length) box.innerHTML = '<p class="empty">No histograms.</p>';
}

function drawImagesAndText(runs) {
  const imgs = document.getElementById("imgs");
  const text = document.getElementById("text");
  for (const run of runs) {
    for (const [tag, list] of Object.entries(run.images)) {
      const last = list[list.length - 1];
      const card = document.createElement("div");
      card.className = "card";
      card.innerHTML =
        `<h3>${tag} (step ${last.step})</h3><img class="summary" alt="${tag}" src="data:image/png;base64,${last.png}">`;
      imgs.appendChild(card);
    }
    for (const [tag, list] of Object.entries(run.text)) {
      const last = list[list.length - 1];
      const pre = document.createElement("pre");
      pre.textContent = `${tag} (step ${last.step}): ${last.text}`;
      text.appendChild(pre);
    }
    for (const p of run.problems) {
      const pre = document.createElement("pre");
      pre.textContent = `problem: ${p}`;
      text.appendChild(pre);
    }
  }
  if (!imgs.children.length) imgs.innerHTML = '<p class="empty">No images.</p>';
  if (!text.children.length) text.innerHTML = '<p class="empty">No text.</p>';
}

function drawTimeline(trace, file) {
  const box = document.getElementById("timeline-box");
  document.getElementById("trace-file").textContent = file ? `(${file})` : "";
  const events = trace?.traceEvents ?? [];
  const slices = events.filter((e) => e.ph === "X");
  if (slices.length === 0) {
    box.innerHTML = '<p class="empty">No trace file (*.trace.json) in the log directory.</p>';
    return;
  }
  const names = new Map(
    events.filter((e) => e.ph === "M" && e.name === "process_name").map((
      e,
    ) => [e.pid, e.args.name]),
  );
  const threads = new Map(
    events.filter((e) => e.ph === "M" && e.name === "thread_name").map((
      e,
    ) => [`${e.pid}/${e.tid}`, e.args.name]),
  );
  const rows = [...new Set(slices.map((e) => `${e.pid}/${e.tid}`))].sort((a, b) => {
    const [pa, ta] = a.split("/").map(Number), [pb, tb] = b.split("/").map(Number);
    return pa - pb || ta - tb;
  });
  // Wall-clock and simulated processes have their own time axes.
  const simulated = (pid) => (names.get(pid) ?? "").endsWith("(simulated)");
  const extent = (sim) =>
    Math.max(1e-9, ...slices.filter((e) => simulated(e.pid) === sim).map((e) => e.ts + e.dur));
  const ends = { true: extent(true), false: extent(false) };
  const L = 260, W = 900, RH = 22;
  const svg = el("svg", { width: L + W + 20, height: rows.length * RH + 30, id: "timeline-svg" });
  const x = (e, t) => L + (t / ends[simulated(e.pid)]) * W;
  rows.forEach((row, i) => {
    const [pid] = row.split("/").map(Number);
    const label = `${shortDevice(names.get(pid))}${simulated(pid) ? " (sim)" : ""} · ${
      threads.get(row) ?? ""
    }`;
    el("text", { x: 4, y: i * RH + 15, "font-size": 11 }, svg).textContent = label;
    el("line", { x1: L, x2: L + W, y1: i * RH + RH, y2: i * RH + RH, stroke: "#eee" }, svg);
  });
  const rowOf = (e) => rows.indexOf(`${e.pid}/${e.tid}`);
  // A _Recv's slice spans its wait for the value as well as the landing: drawn full, a row of
  // overlapping waits reads as one long busy bar. Waits are pale and thin instead, so the kernels
  // stand out and the flow line into the _Recv marks when its value arrived.
  const waits = (e) => e.cat === "_Recv" || e.args?.op === "_Recv";
  // Back-to-back kernels of one row alternate in shade, so a busy row still shows its kernels.
  const nth = new Map();
  const shade = (e) => {
    const row = `${e.pid}/${e.tid}`, i = nth.get(row) ?? 0;
    nth.set(row, i + 1);
    return i % 2 === 0 ? 1 : 0.7;
  };
  for (const e of [...slices].sort((a, b) => a.ts - b.ts)) {
    const r = el("rect", {
      x: x(e, e.ts),
      y: rowOf(e) * RH + (waits(e) ? 8 : 3),
      width: Math.max(1, x(e, e.ts + e.dur) - x(e, e.ts)),
      height: waits(e) ? RH - 16 : RH - 6,
      opacity: waits(e) ? 0.25 : shade(e),
      fill: e.cat === "copy"
        ? "#ff7043"
        : deviceColor(shortDevice((names.get(e.pid) ?? "").replace(/ \(simulated\)$/, ""))),
      class: "slice",
    }, svg);
    hover(
      r,
      () =>
        [
          `${e.name} (${e.cat})`,
          `${(e.dur / 1000).toFixed(3)} ms${simulated(e.pid) ? " simulated" : ""}`,
          JSON.stringify(e.args ?? {}),
        ].join("\n"),
    );
  }
  const starts = new Map(events.filter((e) => e.ph === "s").map((e) => [e.id, e]));
  for (const f of events.filter((e) => e.ph === "f")) {
    const s = starts.get(f.id);
    if (!s || rowOf(s) < 0 || rowOf(f) < 0) continue;
    el("line", {
      x1: x(s, s.ts),
      y1: rowOf(s) * RH + RH / 2,
      x2: x(f, f.ts),
      y2: rowOf(f) * RH + RH / 2,
      stroke: "#37474f",
      "stroke-width": 1,
      class: "flow",
    }, svg);
  }
  el("text", { x: L, y: rows.length * RH + 20, "font-size": 10, fill: "#555" }, svg).textContent =
    `wall clock 0 … ${(ends.false / 1000).toFixed(3)} ms` +
    (slices.some(waits) ? "; pale thin bars: a _Recv waiting for its value" : "") +
    (slices.some((e) => simulated(e.pid))
      ? `; simulated 0 … ${(ends.true / 1000).toFixed(4)} ms`
      : "");
  box.appendChild(svg);
}

async function main() {
  const data = await (await fetch("/api/data")).json();
  if (data.error) throw new Error(data.error);
  document.getElementById("logdir").textContent = data.logdir;
  drawGraph(data.graph, data.trace);
  drawCurves(data.runs);
  drawHistograms(data.runs);
  drawImagesAndText(data.runs);
  drawTimeline(data.trace, data.traceFile);
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  document.body.dataset.ready = "error";
  document.body.insertAdjacentHTML("afterbegin", `<pre id="error">${e.message}</pre>`);
});
