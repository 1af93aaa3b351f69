/* Operations console: shared helpers (API key, fetch, SSE over fetch, router, DOM). No
   external code: it works offline. Pages register themselves in pages.js. */
"use strict";

const KEY_NAME = "warehouse.apiKey";
const App = { pages: {}, me: null, view: null, leave: [] };

function apiKey() { return sessionStorage.getItem(KEY_NAME); }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toast._timer);
  toast._timer = setTimeout(() => t.classList.remove("show"), 2500);
}

class ApiError extends Error {
  constructor(status, body) { super(body && body.detail ? body.detail : `HTTP ${status}`); this.status = status; this.body = body; }
}

async function api(path, { method = "GET", body, raw = false, headers = {} } = {}) {
  const init = { method, headers: { "X-API-Key": apiKey() || "", ...headers } };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, init);
  if (r.status === 401) { showLogin("That key is unknown or revoked; paste another."); throw new ApiError(401, await r.json().catch(() => null)); }
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  if (raw) return r;
  if (r.status === 204) return null;
  return r.json();
}

/* The live stream shows an alert before the store has ingested it (a few hundred ms on a
   loaded box), so a request about a just-arrived alert can meet 404 once or twice: retry
   those with backoff (about 8 s in all) instead of showing a stale failure. */
const NOT_YET_DELAYS_MS = [250, 500, 1000, 2000, 4000];
async function retryNotYet(call) {
  for (let i = 0; ; i++) {
    try { return await call(); }
    catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404 || i >= NOT_YET_DELAYS_MS.length) throw e;
      await new Promise(res => setTimeout(res, NOT_YET_DELAYS_MS[i]));
    }
  }
}

/* An <img> needs the key header, so images are fetched and shown as blob URLs. */
async function blobUrl(path, { retry = false } = {}) {
  try {
    const r = await (retry ? retryNotYet(() => api(path, { raw: true })) : api(path, { raw: true }));
    return URL.createObjectURL(await r.blob());
  } catch (e) { return null; }
}

/* Server-Sent Events over fetch (EventSource cannot send the key header); reconnects with
   Last-Event-ID after a drop, so nothing published meanwhile is missed. */
function liveAlerts(params, onAlert, onState) {
  let stopped = false, lastId = null, ctrl = null;
  async function run() {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const headers = { "X-API-Key": apiKey() || "" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const r = await fetch("/alerts/stream?" + new URLSearchParams(params), { headers, signal: ctrl.signal });
        if (!r.ok) throw new Error("HTTP " + r.status);
        onState && onState("live");
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const frame = buf.slice(0, i); buf = buf.slice(i + 2);
            let id = null, data = "";
            for (const line of frame.split("\n")) {
              if (line.startsWith("id: ")) id = line.slice(4);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (id) lastId = id;
            if (data) { try { onAlert(JSON.parse(data)); } catch (e) { console.warn("bad alert frame", e); } }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      onState && onState("reconnecting");
      await new Promise(res => setTimeout(res, 1500));
    }
  }
  run();
  return () => { stopped = true; if (ctrl) ctrl.abort(); };
}

function fmtTime(ms) {
  if (typeof ms !== "number") return "";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z";
}
function pct(x) { return typeof x === "number" ? (100 * x).toFixed(1) + "%" : "—"; }
function bar(frac, label) {
  const f = Math.max(0, Math.min(1, Number(frac) || 0));
  return el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(f * 100)), "aria-label": label },
    el("span", { style: `width:${(f * 100).toFixed(1)}%` }));
}
function errorBox(e) { return el("p", { class: "error", role: "alert" }, e instanceof ApiError ? `${e.status}: ${e.message}` : String(e)); }

/* -- sign in --------------------------------------------------------------------------- */
function showLogin(message) {
  const d = document.getElementById("login");
  document.getElementById("login-error").textContent = message || "";
  if (!d.open) d.showModal();
  document.getElementById("login-key").focus();
}

async function whoAmI() {
  App.me = await api("/keys/me");
  document.getElementById("who").textContent = `Signed in as ${App.me.name} (${App.me.role})`;
  document.getElementById("logout").hidden = false;
}

document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = document.getElementById("login-key").value.trim();
  sessionStorage.setItem(KEY_NAME, key);
  try {
    await api("/cameras");
    document.getElementById("login").close();
    await whoAmI();
    route();
  } catch (e) {
    sessionStorage.removeItem(KEY_NAME);
    document.getElementById("login-error").textContent = e.status === 429 ? e.message : "That key was refused.";
  }
});
document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY_NAME); location.hash = "#/alerts"; location.reload(); });

/* -- router ------------------------------------------------------------------------------ */
/* What a page started (a key handler, the live stream) is stopped when the page is left. A
   page renders asynchronously into its own view; when a newer route replaced that view while
   it was still rendering (sign-in routes, then a link changes the hash), what the stale page
   starts afterwards is stopped at once, so two pages never live side by side. */
function onLeave(view, fn) {
  if (view !== App.view) { try { fn(); } catch (e) { /* page gone */ } return; }
  App.leave.push(fn);
}

function route() {
  for (const f of App.leave.splice(0)) { try { f(); } catch (e) { /* page gone */ } }
  const [, page = "alerts", ...rest] = (location.hash || "#/alerts").split("/");
  const nav = page === "camera" ? "cameras" : page === "algorithm" ? "algorithms" : page;
  for (const a of document.querySelectorAll(".top nav a")) {
    if (a.dataset.page === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const view = document.createElement("div");
  view.className = "view";
  document.getElementById("main").replaceChildren(view);
  App.view = view;
  if (!apiKey()) { showLogin(); return; }
  const render = App.pages[page] || App.pages.alerts;
  Promise.resolve(render(view, rest.map(decodeURIComponent))).catch(e => view.append(errorBox(e)));
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  if (apiKey()) { try { await whoAmI(); } catch (e) { return; } }
  route();
});
