/* The console's pages: alert wall, cameras, camera detail, labeling, algorithms, algorithm
   detail, datasets, tasks. Each renders into <main> and registers cleanups for the router. */
"use strict";

/* ---------------------------------------------------------------- alert wall */
App.pages.alerts = async function (main) {
  const state = { alerts: [], selected: 0, filters: {} };
  const wall = el("div", { class: "wall", id: "wall", role: "list", "aria-label": "Alerts" });
  const summary = el("div", { id: "summary" });
  const live = el("span", { id: "live-state", class: "muted", "aria-live": "polite" }, "connecting…");
  const cams = await api("/cameras").catch(() => []);
  const regions = [...new Set(cams.map(c => c.region))].sort();
  const sel = (id, label, options) => el("div", {}, el("label", { for: id }, label),
    el("select", { id, name: id }, el("option", { value: "" }, "any"), options.map(o => el("option", { value: o }, o))));
  const form = el("form", { class: "filters", id: "alert-filters", "aria-label": "Alert filters" },
    sel("f-camera", "Camera", cams.map(c => c.camera_id)),
    sel("f-region", "Region", regions),
    el("div", {}, el("label", { for: "f-algorithm" }, "Algorithm"), el("input", { id: "f-algorithm", name: "algorithm", placeholder: "scene.road.fire", size: "22" })),
    sel("f-state", "State", ["open", "confirmed", "rejected"]),
    el("button", { type: "submit" }, "Apply"));
  main.append(el("h2", {}, "Alert wall"),
    el("p", { class: "muted" }, "Keys: ", el("span", { class: "kbd" }, "j"), "/", el("span", { class: "kbd" }, "k"), " move, ",
      el("span", { class: "kbd" }, "c"), " confirm, ", el("span", { class: "kbd" }, "r"), " reject the selected alert. Stream: ", live),
    form, el("div", { class: "layout" }, el("section", { "aria-label": "Alerts" }, wall),
      el("aside", { class: "panel", "aria-labelledby": "summary-title" }, el("h3", { id: "summary-title" }, "By region and camera"), summary)));

  const canJudge = (status) => status === "open" && App.me && App.me.role !== "viewer";  // viewers watch, operators judge

  function matches(a) {
    const f = state.filters;
    return (!f.camera_id || a.camera_id === f.camera_id) && (!f.algorithm_id || a.algorithm_id === f.algorithm_id)
      && (!f.region || a.region === f.region || cams.some(c => c.camera_id === a.camera_id && c.region === f.region))
      && (!f.state || (a.status || "open") === f.state);
  }

  function card(a, i) {
    const status = a.status || "open";
    const box = Array.isArray(a.xyxy) ? a.xyxy : null;
    const frame = el("div", { class: "evidence" }, el("span", { class: "none" }, a.evidence_sha256 ? "loading evidence…" : "no evidence snapshot"));
    if (a.evidence_sha256) {
      blobUrl(`/alerts/${encodeURIComponent(a.alert_id)}/evidence`, { retry: true }).then(url => {
        if (!url) { frame.firstChild.textContent = "evidence unavailable"; return; }
        const img = el("img", { src: url, alt: `Evidence for alert ${a.alert_id} on ${a.camera_id}` });
        img.addEventListener("load", () => {
          if (!box) return;
          const s = svg("svg", { viewBox: `0 0 ${img.naturalWidth} ${img.naturalHeight}`, preserveAspectRatio: "xMidYMid meet", "aria-hidden": "true" },
            svg("rect", { x: box[0], y: box[1], width: box[2] - box[0], height: box[3] - box[1], fill: "none", stroke: "#f2a900", "stroke-width": Math.max(2, img.naturalWidth / 200) }));
          frame.append(s);
        });
        frame.replaceChildren(img);
      });
    }
    const node = el("article", { class: `alert ${status}${i === state.selected ? " selected" : ""}`, role: "listitem", "data-alert-id": a.alert_id,
      "aria-label": `Alert ${a.alert_id}`, tabindex: "-1" },
      frame,
      el("div", {}, el("strong", {}, a.algorithm_id), " ", el("span", { class: `status ${status}` }, status)),
      el("div", { class: "meta" }, `${a.camera_id}${a.region ? " · " + a.region : ""} · ${fmtTime(a.ts_ms)} · score ${typeof a.score === "number" ? a.score.toFixed(2) : "—"} · v${a.model_version ?? "?"}`),
      box ? el("div", { class: "meta" }, `box ${box.map(v => Math.round(v)).join(", ")}`) : null,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "confirm", "aria-keyshortcuts": "c", disabled: !canJudge(status), onclick: () => verdict(a, "confirm") }, "Confirm (c)"),
        el("button", { type: "button", class: "reject", "aria-keyshortcuts": "r", disabled: !canJudge(status), onclick: () => verdict(a, "reject") }, "Reject (r)")));
    node.addEventListener("click", () => { state.selected = i; paint(); });
    return node;
  }

  function paint() {
    const shown = state.alerts.filter(matches);
    state.selected = Math.min(state.selected, Math.max(0, shown.length - 1));
    wall.replaceChildren(...(shown.length ? shown.map(card) : [el("p", { class: "muted" }, "No alerts match.")]));
  }

  async function loadSummary() {
    try {
      const s = await api("/alerts/summary");
      const row = (name, c) => el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, c.open), el("td", {}, c.confirmed), el("td", {}, c.rejected));
      const head = (what) => el("thead", {}, el("tr", {}, el("th", { scope: "col" }, what), el("th", { scope: "col" }, "open"), el("th", { scope: "col" }, "conf."), el("th", { scope: "col" }, "rej.")));
      summary.replaceChildren(
        el("table", { "aria-label": "Alerts per region" }, head("Region"), el("tbody", {}, Object.entries(s.regions).map(([k, v]) => row(k || "(none)", v)))),
        el("table", { "aria-label": "Alerts per camera", style: "margin-top:.8rem" }, head("Camera"), el("tbody", {}, Object.entries(s.cameras).map(([k, v]) => row(k, v)))));
    } catch (e) { summary.replaceChildren(errorBox(e)); }
  }

  async function verdict(a, v) {
    try {
      await retryNotYet(() => api(`/alerts/${encodeURIComponent(a.alert_id)}/feedback`, { method: "POST", body: { verdict: v } }));
      a.status = v === "confirm" ? "confirmed" : "rejected";
      toast(`${v === "confirm" ? "Confirmed" : "Rejected"} ${a.alert_id}`);
      paint(); loadSummary();
    } catch (e) { toast(e.message); }
  }

  async function load() {
    const f = state.filters;
    const q = new URLSearchParams(Object.fromEntries(Object.entries({ camera_id: f.camera_id, region: f.region, algorithm_id: f.algorithm_id, state: f.state, limit: "60" }).filter(([, v]) => v)));
    state.alerts = await api("/alerts?" + q);
    state.selected = 0;
    paint();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.filters = { camera_id: form.querySelector("#f-camera").value, region: form.querySelector("#f-region").value,
      algorithm_id: form.querySelector("#f-algorithm").value.trim(), state: form.querySelector("#f-state").value };
    load().catch(e => wall.replaceChildren(errorBox(e)));
  });

  function onKey(ev) {
    if (ev.target.closest && ev.target.closest("input, select, textarea, dialog")) return;
    const shown = state.alerts.filter(matches);
    if (ev.key === "j" || ev.key === "ArrowDown") { state.selected = Math.min(shown.length - 1, state.selected + 1); paint(); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { state.selected = Math.max(0, state.selected - 1); paint(); }
    else if ((ev.key === "c" || ev.key === "r") && shown[state.selected] && canJudge(shown[state.selected].status || "open")) {
      verdict(shown[state.selected], ev.key === "c" ? "confirm" : "reject");
    } else return;
    ev.preventDefault();
    const cur = wall.querySelector(".alert.selected");
    if (cur) cur.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", onKey);
  onLeave(main, () => document.removeEventListener("keydown", onKey));

  await load();
  loadSummary();
  const stop = liveAlerts({}, (a) => {
    if (state.alerts.some(x => x.alert_id === a.alert_id)) return;
    a.status = a.status || "open";
    state.alerts.unshift(a);
    if (state.selected > 0) state.selected += 1;
    paint();
    clearTimeout(App._sumTimer); App._sumTimer = setTimeout(loadSummary, 500);
  }, (s) => { live.textContent = s; });
  onLeave(main, stop);
};

/* ---------------------------------------------------------------- cameras */
App.pages.cameras = async function (main) {
  main.append(el("h2", {}, "Cameras"));
  const list = el("div", {});
  main.append(list);
  async function load() {
    const cams = await api("/cameras");
    list.replaceChildren(el("table", { "aria-label": "Cameras" },
      el("thead", {}, el("tr", {}, ["Camera", "Region", "Stream", "Zones", "Updated"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, cams.map(c => el("tr", {},
        el("td", {}, el("a", { href: `#/camera/${encodeURIComponent(c.camera_id)}` }, c.camera_id)),
        el("td", {}, c.region), el("td", {}, el("code", {}, c.stream_url)), el("td", {}, c.zones.length), el("td", {}, fmtTime(c.updated_ms)))))));
  }
  await load();
  if (App.me && App.me.role === "admin") {
    const err = el("p", { class: "error", role: "alert" });
    const field = (id, label, attrs = {}) => el("div", {}, el("label", { for: id }, label), el("input", { id, name: id, required: true, ...attrs }));
    const form = el("form", { class: "inline panel", id: "add-camera", "aria-labelledby": "add-title" },
      el("h3", { id: "add-title", style: "width:100%" }, "Add a camera"),
      field("c-id", "Camera id", { placeholder: "harbour-cam-07", pattern: "[A-Za-z0-9][A-Za-z0-9._:-]{0,127}" }),
      field("c-region", "Region", { placeholder: "harbour" }),
      field("c-url", "Stream URL", { placeholder: "rtsp://10.0.0.5/stream1", size: "34" }),
      el("div", {}, el("label", { for: "c-scenes" }, "Scene hints (comma separated)"), el("input", { id: "c-scenes", name: "c-scenes", placeholder: "seafront" })),
      el("button", { type: "submit" }, "Add camera"), err);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const scenes = form.querySelector("#c-scenes").value.split(",").map(s => s.trim()).filter(Boolean);
      try {
        await api("/cameras", { method: "POST", body: { camera_id: form.querySelector("#c-id").value.trim(), region: form.querySelector("#c-region").value.trim(),
          stream_url: form.querySelector("#c-url").value.trim(), hints: scenes.length ? { scenes } : {} } });
        err.textContent = ""; toast("Camera added"); form.reset(); await load();
      } catch (e) { err.textContent = e.message; }
    });
    main.append(el("div", { style: "margin-top:1rem" }, form));
  }
};

function neighbourhood(explain) {
  const order = ["camera", "region", "scene", "task", "governance", "event", "algorithm"];
  const cols = new Map(); const edges = new Set();
  for (const ch of explain.choices || []) {
    for (const p of ch.paths || (ch.explanation && ch.explanation.paths) || []) {
      p.forEach((n, i) => {
        const kind = n.split(":")[0];
        if (!cols.has(kind)) cols.set(kind, new Set());
        cols.get(kind).add(n);
        if (i > 0) edges.add(p[i - 1] + "\u0000" + n);
      });
    }
  }
  const kinds = [...cols.keys()].sort((a, b) => (order.indexOf(a) + 99 * (order.indexOf(a) < 0)) - (order.indexOf(b) + 99 * (order.indexOf(b) < 0)));
  const colW = 190, rowH = 26, pad = 20;
  const height = Math.max(...kinds.map(k => cols.get(k).size), 1) * rowH + 2 * pad + 20;
  const pos = new Map();
  kinds.forEach((k, ci) => [...cols.get(k)].sort().forEach((n, ri) => pos.set(n, [pad + ci * colW, pad + 30 + ri * rowH])));
  const s = svg("svg", { viewBox: `0 0 ${kinds.length * colW + pad} ${height}`, width: "100%", style: `max-width:${kinds.length * colW + pad}px`, class: "chart", role: "img",
    "aria-label": `Graph neighbourhood: ${kinds.map(k => `${cols.get(k).size} ${k}`).join(", ")}` });
  kinds.forEach((k, ci) => s.append(svg("text", { x: pad + ci * colW, y: pad + 8, "font-weight": "700", "font-size": "13", fill: "#14171a" }, k)));
  for (const e of edges) {
    const [a, b] = e.split("\u0000"); const [x1, y1] = pos.get(a); const [x2, y2] = pos.get(b);
    s.append(svg("line", { x1: x1 + 150, y1: y1 - 4, x2: x2 - 4, y2: y2 - 4, stroke: "#9aa5b1", "stroke-width": "1" }));
  }
  for (const [n, [x, y]] of pos) {
    const label = n.slice(n.indexOf(":") + 1);
    s.append(svg("text", { x, y, "font-size": "12", fill: "#14171a" }, svg("title", {}, n), label.length > 24 ? label.slice(0, 23) + "…" : label));
  }
  return s;
}

App.pages.camera = async function (main, [cameraId]) {
  const cam = await api(`/cameras/${encodeURIComponent(cameraId)}`);
  main.append(el("h2", {}, `Camera ${cam.camera_id}`), el("p", { class: "muted" }, `Region ${cam.region} · `, el("code", {}, cam.stream_url)));
  const frame = el("div", { class: "evidence", style: "max-width:640px" }, el("span", { class: "none" }, "no recent frame yet"));
  const health = el("div", {}, "…"); const scenes = el("div", {}); const algs = el("div", {}); const graph = el("div", {});
  main.append(el("div", { class: "grid2" },
    el("section", { class: "panel stack", "aria-labelledby": "t-frame" }, el("h3", { id: "t-frame" }, "Recent frame"), frame, el("h3", {}, "Health"), health),
    el("section", { class: "panel", "aria-labelledby": "t-scenes" }, el("h3", { id: "t-scenes" }, "Scenes"), scenes,
      el("h3", {}, "Zones and lines"), cam.zones.length ? el("ul", {}, cam.zones.map(z => el("li", {}, `${z.name} (${z.kind}${z.window ? `, ${z.window.start}–${z.window.end}` : ""}${z.direction_deg !== undefined ? `, ${z.direction_deg}°` : ""})`))) : el("p", { class: "muted" }, "none"))),
    el("section", { class: "panel", style: "margin-top:1rem", "aria-labelledby": "t-algs" }, el("h3", { id: "t-algs" }, "Algorithms and why each runs"), algs),
    el("section", { class: "panel", style: "margin-top:1rem", "aria-labelledby": "t-graph" }, el("h3", { id: "t-graph" }, "Knowledge-graph neighbourhood"), graph));
  blobUrl(`/cameras/${encodeURIComponent(cameraId)}/frame`).then(url => { if (url) frame.replaceChildren(el("img", { src: url, alt: `Recent frame of ${cameraId}` })); });
  api(`/cameras/${encodeURIComponent(cameraId)}/health`).then(h => health.replaceChildren(
    el("p", {}, el("strong", {}, h.state), h.fps !== null && h.fps !== undefined ? ` · ${h.fps.toFixed(1)} frames/s` : "", el("span", { class: "muted" }, ` (from ${h.source})`)))).catch(e => health.replaceChildren(errorBox(e)));
  api(`/cameras/${encodeURIComponent(cameraId)}/scenes`).then(s => scenes.replaceChildren(s.scenes.length ? el("table", { "aria-label": "Scenes" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Scene"), el("th", { scope: "col" }, "Confidence"))),
    el("tbody", {}, s.scenes.map(x => el("tr", {}, el("td", {}, x.scene), el("td", {}, bar(x.confidence, `${x.scene} confidence`), ` ${pct(x.confidence)}`))))) : el("p", { class: "muted" }, "no scenes discovered yet"))).catch(e => scenes.replaceChildren(errorBox(e)));
  try {
    const ex = await api(`/cameras/${encodeURIComponent(cameraId)}/assignments`);
    algs.replaceChildren(ex.choices.length ? el("table", { "aria-label": "Assigned algorithms" },
      el("thead", {}, el("tr", {}, ["Algorithm", "Running", "Priority", "fps", "Why"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ex.choices.map(c => el("tr", {}, el("td", {}, el("a", { href: `#/algorithm/${encodeURIComponent(c.algorithm_id)}` }, c.algorithm_id)),
        el("td", {}, ex.running === null ? "—" : (c.running_version ?? "not yet")),
        el("td", {}, c.priority), el("td", {}, c.fps), el("td", {}, c.why, el("div", { class: "chips" }, (c.governance_task_ids || []).map(t => el("span", {}, t)))))))) : el("p", { class: "muted" }, ex.note || "no algorithm is relevant here"));
    graph.replaceChildren(neighbourhood(ex));
  } catch (e) { algs.replaceChildren(errorBox(e)); }
};

/* ---------------------------------------------------------------- labeling */
App.pages.labeling = async function (main) {
  main.append(el("h2", {}, "Labeling"), el("p", { class: "muted" }, "Keys: ", el("span", { class: "kbd" }, "y"), " yes, ",
    el("span", { class: "kbd" }, "n"), " no, ", el("span", { class: "kbd" }, "s"), " skip."));
  const progress = el("div", { id: "label-progress" }); const area = el("div", { class: "label-card stack", id: "label-area" });
  main.append(progress, area);
  let tasks = [], current = null, busy = false;
  async function load() {
    const r = await api("/labeling/tasks?limit=50");
    tasks = r.tasks.filter(t => t.state === undefined || t.state === "open" || t.state === "pending");
    const p = r.progress || { done: 0, total: 0 };
    progress.replaceChildren(el("p", {}, `${p.done} of ${p.total} labeled`), bar(p.total ? p.done / p.total : 0, "Labeling progress"));
    next();
  }
  function next() {
    current = tasks.shift() || null;
    if (!current) { area.replaceChildren(el("p", {}, "Nothing to label right now. New tasks appear when the flywheel mines frames.")); return; }
    const img = el("img", { alt: `Frame ${current.frame_ref} to label` });
    blobUrl(current.image_url || `/labeling/tasks/${encodeURIComponent(current.task_id)}/image`).then(u => { if (u) img.src = u; });
    area.replaceChildren(img, el("p", { id: "label-question" }, el("strong", {}, current.question || `Does this frame show ${current.event_type}?`)),
      el("p", { class: "muted" }, `${current.algorithm_id} · ${current.frame_ref}`),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "confirm", id: "label-yes", "aria-keyshortcuts": "y", onclick: () => answer(1) }, "Yes (y)"),
        el("button", { type: "button", class: "reject", id: "label-no", "aria-keyshortcuts": "n", onclick: () => answer(0) }, "No (n)"),
        el("button", { type: "button", class: "secondary", id: "label-skip", "aria-keyshortcuts": "s", onclick: () => answer(null) }, "Skip (s)")));
  }
  async function answer(label) {
    if (!current || busy) return;
    busy = true;
    try {
      const id = encodeURIComponent(current.task_id);
      if (label === null) await api(`/labeling/tasks/${id}/skip`, { method: "POST" });
      else await api(`/labeling/tasks/${id}`, { method: "POST", body: { label } });
      toast(label === null ? "Skipped" : "Labeled");
      if (!tasks.length) await load(); else { next(); const r = await api("/labeling/tasks?limit=1"); const p = r.progress; progress.replaceChildren(el("p", {}, `${p.done} of ${p.total} labeled`), bar(p.total ? p.done / p.total : 0, "Labeling progress")); }
    } catch (e) { toast(e.message); } finally { busy = false; }
  }
  function onKey(ev) {
    if (ev.target.closest && ev.target.closest("input, select, textarea, dialog")) return;
    if (ev.key === "y") answer(1); else if (ev.key === "n") answer(0); else if (ev.key === "s") answer(null); else return;
    ev.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  onLeave(main, () => document.removeEventListener("keydown", onKey));
  await load().catch(e => area.replaceChildren(errorBox(e)));
};

/* ---------------------------------------------------------------- algorithms */
App.pages.algorithms = async function (main) {
  main.append(el("h2", {}, "Algorithms"));
  const filter = el("input", { id: "alg-filter", placeholder: "filter by id", "aria-label": "Filter algorithms by id" });
  const table = el("div", {});
  main.append(filter, table);
  const algs = await api("/algorithms");
  function paint() {
    const q = filter.value.trim();
    const shown = algs.filter(a => !q || a.id.includes(q)).slice(0, 300);
    table.replaceChildren(el("table", { "aria-label": "Algorithms" },
      el("thead", {}, el("tr", {}, ["Algorithm", "Name", "Production", "F1"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, shown.map(a => el("tr", {}, el("td", {}, el("a", { href: `#/algorithm/${encodeURIComponent(a.id)}` }, a.id)), el("td", {}, a.name),
        el("td", {}, a.production_version ? `v${a.production_version}` : "—"), el("td", {}, typeof a.metrics.f1 === "number" ? a.metrics.f1.toFixed(3) : "—"))))));
  }
  filter.addEventListener("input", paint);
  paint();
};

function lineChart(title, series, versions) {
  // series: [{name, color, values: [number|null per version]}]
  const W = 460, H = 200, L = 40, B = 30, T = 24, R = 10;
  const n = versions.length;
  const x = i => L + (n <= 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const y = v => T + (1 - v) * (H - T - B);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", class: "chart", role: "img", "aria-label": `${title} across versions` },
    svg("text", { x: L, y: 15, "font-size": "13", "font-weight": "700", fill: "#14171a" }, title));
  for (const g of [0, 0.5, 1]) s.append(svg("line", { x1: L, x2: W - R, y1: y(g), y2: y(g), stroke: "#dde2e8" }), svg("text", { x: 4, y: y(g) + 4, "font-size": "11", fill: "#4a5360" }, g.toFixed(1)));
  versions.forEach((v, i) => s.append(svg("text", { x: x(i) - 8, y: H - 10, "font-size": "11", fill: "#4a5360" }, `v${v}`)));
  series.forEach((se, k) => {
    const pts = se.values.map((v, i) => (typeof v === "number" ? [x(i), y(Math.max(0, Math.min(1, v)))] : null)).filter(Boolean);
    if (pts.length > 1) s.append(svg("polyline", { points: pts.map(p => p.join(",")).join(" "), fill: "none", stroke: se.color, "stroke-width": "2" }));
    for (const [px, py] of pts) s.append(svg("circle", { cx: px, cy: py, r: "3.5", fill: se.color }));
    s.append(svg("text", { x: W - R - 150, y: 15 + 14 * k, "font-size": "11", fill: se.color }, `● ${se.name}`));
  });
  return s;
}

function metric(v, ...names) { for (const n of names) if (typeof v.metrics[n] === "number") return v.metrics[n]; return null; }

App.pages.algorithm = async function (main, [algorithmId]) {
  const a = await api(`/algorithms/${encodeURIComponent(algorithmId)}`);
  const admin = App.me && App.me.role === "admin";
  const lineage = el("pre", { id: "lineage", class: "panel", style: "white-space:pre-wrap;max-height:300px;overflow:auto", tabindex: "0", "aria-label": "Lineage" }, "Choose a version's lineage.");
  const versions = a.versions;
  const nums = versions.map(v => v.number);
  main.append(el("h2", {}, a.name || a.id), el("p", { class: "muted" }, `${a.id} · production ${a.production_version ? "v" + a.production_version : "none"}`));
  main.append(el("div", { class: "grid2" },
    lineChart("Precision and recall", [
      { name: "precision", color: "#0b5cad", values: versions.map(v => metric(v, "precision", "heldout_precision")) },
      { name: "recall", color: "#116b2e", values: versions.map(v => metric(v, "recall", "heldout_recall")) }], nums),
    lineChart("Operators' rejection rate", [{ name: "rejection rate", color: "#a4161a", values: versions.map(v => v.feedback.rejection_rate) }], nums)));
  async function act(path, label) {
    try { await api(path, { method: "POST", body: { reason: `${label} from the console` } }); toast(`${label}: done`); route(); }
    catch (e) { toast(e.message); }
  }
  main.append(el("h3", {}, "Versions"), el("table", { "aria-label": "Versions" },
    el("thead", {}, el("tr", {}, ["Version", "Stage", "Precision", "Recall", "F1", "Gate", "Rejected", "", ""].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, versions.map(v => el("tr", { "data-version": v.number },
      el("td", {}, `v${v.number}`), el("td", {}, v.stage + (v.canary_cameras.length ? ` (${v.canary_cameras.join(", ")})` : "")),
      el("td", {}, pct(metric(v, "precision", "heldout_precision"))), el("td", {}, pct(metric(v, "recall", "heldout_recall"))), el("td", {}, pct(metric(v, "f1", "heldout_f1"))),
      el("td", {}, v.gate ? el("code", {}, JSON.stringify(v.gate).slice(0, 120)) : "—"),
      el("td", {}, `${v.feedback.reject}/${v.feedback.confirm + v.feedback.reject}`),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: async () => { lineage.textContent = JSON.stringify(await api(`/algorithms/${encodeURIComponent(a.id)}/versions/${v.number}/lineage`), null, 2); } }, `Lineage v${v.number}`)),
      el("td", {}, admin && v.stage !== "production" && v.stage !== "retired" ? el("button", { type: "button", onclick: () => act(`/algorithms/${encodeURIComponent(a.id)}/versions/${v.number}/promote`, `Promote v${v.number}`) }, `Promote v${v.number}`) : ""))))));
  if (admin && a.production_version) main.append(el("p", {}, el("button", { type: "button", class: "reject", id: "rollback", onclick: () => act(`/algorithms/${encodeURIComponent(a.id)}/rollback`, "Roll back") }, "Roll back production")));
  main.append(el("h3", {}, "Lineage"), lineage);
};

/* ---------------------------------------------------------------- datasets, tasks */
App.pages.datasets = async function (main) {
  main.append(el("h2", {}, "Datasets"));
  const list = await api("/datasets");
  const rows = Array.isArray(list) ? list : (list.datasets || []);
  const diff = el("pre", { class: "panel", id: "dataset-diff", tabindex: "0", "aria-label": "Dataset diff" }, "Pick two versions to compare.");
  const opts = rows.map(d => el("option", { value: d.dataset_version_id || d.id }, `${d.dataset_version_id || d.id} (${d.algorithm_id || ""})`));
  const from = el("select", { id: "d-from" }, opts.map(o => o.cloneNode(true))); const to = el("select", { id: "d-to" }, opts);
  if (rows.length > 1) from.selectedIndex = 1;  // newest first: compare the one before with the newest
  main.append(el("table", { "aria-label": "Dataset versions" },
    el("thead", {}, el("tr", {}, ["Dataset version", "Algorithm", "New samples", "Parent", "Mining job", "Created"].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(d => el("tr", { "data-dataset": d.dataset_version_id || d.id }, el("td", {}, d.dataset_version_id || d.id), el("td", {}, d.algorithm_id || ""),
      el("td", {}, d.samples_recorded ?? d.sample_count ?? (d.sample_ids || []).length),
      el("td", {}, d.parent_id || "—"), el("td", {}, d.mining_job_id || "—"), el("td", {}, (d.created_at || "").slice(0, 19)))))),
    el("form", { class: "inline", style: "margin-top:1rem", onsubmit: async (ev) => { ev.preventDefault(); try { diff.textContent = JSON.stringify(await api(`/datasets/diff?from=${encodeURIComponent(from.value)}&to=${encodeURIComponent(to.value)}`), null, 2); } catch (e) { diff.textContent = e.message; } } },
      el("div", {}, el("label", { for: "d-from" }, "From"), from), el("div", {}, el("label", { for: "d-to" }, "To"), to), el("button", { type: "submit" }, "Diff")), diff);
};

App.pages.tasks = async function (main) {
  main.append(el("h2", {}, "Tasks"));
  const list = await api("/tasks");
  const rows = Array.isArray(list) ? list : (list.tasks || []);
  main.append(el("table", { "aria-label": "Tasks" },
    el("thead", {}, el("tr", {}, ["Task", "Kind", "Algorithm", "State", "Progress"].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(t => {
      const p = t.progress || {}; const frac = typeof p === "number" ? p : (p.total ? p.done / p.total : 0);
      return el("tr", { "data-task": t.task_id }, el("td", {}, t.task_id), el("td", {}, t.kind), el("td", {}, t.algorithm_id || ""), el("td", {}, t.state),
        el("td", {}, bar(frac, `${t.task_id} progress`), typeof p === "object" && p.total ? ` ${p.done}/${p.total}` : ` ${pct(frac)}`));
    }))));
};
