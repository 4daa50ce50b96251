// The Coffer console: a page over the admin API (/admin/v1). It logs in with POST /login (the
// session cookie) and shows what the user may see; actions are offered to roles that may change
// things, and the server checks every one of them again. Every text from the server is put in the
// page as text (never as HTML).
"use strict";

const state = { me: null, sources: [], timer: null, backupsCursor: [], view: "" };

// ---- small helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function age(iso) {
  if (!iso) return "";
  const secs = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (secs < 90) return `${Math.round(secs)} s ago`;
  if (secs < 5400) return `${Math.round(secs / 60)} min ago`;
  if (secs < 172800) return `${Math.round(secs / 3600)} h ago`;
  return `${Math.round(secs / 86400)} days ago`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function stateBadge(st) {
  return h("span", { class: `state state-${st}` }, (st || "").replaceAll("_", " "));
}

function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("shown"), 3000);
}

function canWrite() {
  return state.me && state.me.role !== "reader" && !state.me.read_only;
}

class NeedLogin extends Error {}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { "x-requested-with": "coffer-console" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (resp.status === 401) {
    showLogin();
    throw new NeedLogin("log in again");
  }
  if (!resp.ok) {
    const message = (data && data.error && data.error.message) || (data && data.message) || `${resp.status} ${resp.statusText}`;
    throw new Error(message);
  }
  return data;
}

// ---- login ----

function showLogin() {
  stopPolling();
  state.me = null;
  document.getElementById("bar").hidden = true;
  document.getElementById("view").replaceChildren();
  document.getElementById("login").hidden = false;
  document.querySelector("#login-form input[name=username]").focus();
}

async function start() {
  try {
    state.me = await api("GET", "/admin/v1/whoami");
  } catch (e) {
    if (!(e instanceof NeedLogin)) showLogin();
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("bar").hidden = false;
  document.getElementById("who").textContent = `${state.me.user} · ${state.me.tenant} · ${state.me.role}${state.me.read_only ? " (read-only key)" : ""}`;
  route();
}

document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const error = document.getElementById("login-error");
  error.textContent = "";
  const resp = await fetch("/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-requested-with": "coffer-console" },
    body: JSON.stringify({ username: form.username.value, password: form.password.value }),
  });
  if (!resp.ok) {
    error.textContent = resp.status === 429 ? "Too many attempts; wait a moment." : "Wrong user name or password.";
    return;
  }
  form.password.value = "";
  if (!location.hash) location.hash = "#/overview";
  await start();
});

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/logout", { credentials: "same-origin", headers: { "x-requested-with": "coffer-console" } });
  showLogin();
});

// ---- routing ----

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function route() {
  if (!state.me) return;
  stopPolling();
  const [view, id] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  state.view = view;
  for (const a of document.querySelectorAll(".bar nav a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const views = { overview: showOverview, backups: id ? () => showBackup(id) : showBackups, operations: showOperations };
  (views[view] || showOverview)().catch(showError);
}

window.addEventListener("hashchange", route);

function showError(e) {
  if (e instanceof NeedLogin) return;
  document.getElementById("view").replaceChildren(h("p", { class: "error", role: "alert" }, `Something went wrong: ${e.message}`));
}

function render(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes);
}

async function sources() {
  state.sources = await api("GET", "/admin/v1/sources");
  return state.sources;
}

function sourceName(id) {
  const found = state.sources.find((x) => x.id === id);
  return found ? found.name : id;
}

// ---- confirmation dialog ----

// Shows `title` and `body`; on confirm runs `action` (its error is shown in the dialog).
function confirmThen(title, body, okText, action) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").replaceChildren(...[body].flat());
  document.getElementById("confirm-error").textContent = "";
  const ok = document.getElementById("confirm-ok");
  ok.textContent = okText;
  ok.disabled = false;
  const form = document.getElementById("confirm-form");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    ok.disabled = true;
    try {
      await action();
      dialog.close();
    } catch (e) {
      document.getElementById("confirm-error").textContent = e.message;
      ok.disabled = false;
    }
  };
  document.getElementById("confirm-cancel").onclick = () => dialog.close();
  dialog.showModal();
}

async function backupNow(source) {
  confirmThen(`Back up ${source.name}?`, h("p", {}, `A backup of ${source.kind} '${source.name}' starts now.`), "Back up now", async () => {
    const started = await api("POST", "/admin/v1/backups", { source_id: source.id });
    toast(`Backup ${started.backup.name} started`);
    location.hash = "#/operations";
  });
}

// ---- overview ----

async function showOverview() {
  const [overview] = await Promise.all([api("GET", "/admin/v1/overview"), sources()]);
  const columns = ["Source", "Kind", "Last backup", "Started", "Last complete", "Next run", ""];
  // On a narrow window each row reads as a card, every cell labelled with its column (console.css).
  const cell = (i, ...content) => h("td", { role: "cell", "data-label": columns[i] }, h("div", {}, ...content));
  const rows = overview.map((o) => {
    const last = o.last_backup;
    return h("tr", { role: "row", class: o.overdue || o.archive_problem ? "overdue" : "" },
      cell(0, h("a", { href: `#/backups?source=${o.source.id}`, onclick: (ev) => { ev.preventDefault(); state.filterSource = o.source.id; location.hash = "#/backups"; } }, o.source.name),
        o.archive_problem ? [h("br"), h("span", { class: "overdue-note", "data-problem": "archive" }, `Problem: ${o.archive_problem}`)] : null),
      cell(1, o.source.kind.replace("_", " ")),
      cell(2, last ? [last.name, h("br"), stateBadge(last.state)] : "none yet"),
      cell(3, last ? age(last.created_at) : ""),
      cell(4, o.last_complete_at ? age(o.last_complete_at) : "never",
        o.overdue ? [h("br"), h("span", { class: "overdue-note" }, `Overdue: ${o.overdue}`)] : null),
      cell(5, o.next_run_at ? when(o.next_run_at) : "no plan"),
      cell(6, canWrite() ? h("button", { type: "button", class: "primary", "data-action": "backup-now", onclick: () => backupNow(o.source) }, `Back up ${o.source.name} now`) : ""));
  });
  const charts = await Promise.all(overview.map((o) => chartFor(o.source)));
  render(
    h("h1", {}, "Overview"),
    h("div", { class: "table-wrap" }, h("table", { class: "reflow", role: "table" },
      h("caption", { class: "skip" }, "Sources, their last backups and plans"),
      h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, columns.map((t) => h("th", { scope: "col", role: "columnheader" }, t)))),
      h("tbody", { role: "rowgroup" }, rows))),
    h("h2", {}, "Stored bytes and deduplication"),
    h("div", { class: "cards" }, charts));
}

// Stored bytes and the bytes deduplication saved, backup after backup, of one source.
async function chartFor(source) {
  const list = await api("GET", `/admin/v1/backups?source_id=${source.id}&limit=200`);
  const done = list.filter((b) => b.state === "succeeded" || b.state === "succeeded_with_errors").reverse();
  let logical = 0;
  let stored = 0;
  const points = done.map((b) => {
    logical += b.size_bytes || 0;
    stored += b.stored_bytes || 0;
    return { at: Date.parse(b.created_at), stored, saved: Math.max(0, logical - stored) };
  });
  const card = h("div", { class: "card chart" }, h("h3", {}, source.name));
  if (points.length === 0) {
    card.append(h("p", {}, "No complete backup yet."));
    return card;
  }
  const W = 320;
  const H = 140;
  const top = Math.max(1, ...points.map((p) => Math.max(p.stored, p.saved)));
  // Placed by time: the first backup at the left edge, the newest at the right.
  const first = points[0].at;
  const span = points[points.length - 1].at - first;
  const x = (i) => (span <= 0 ? W / 2 : 10 + ((points[i].at - first) * (W - 20)) / span);
  const y = (v) => H - 10 - (v * (H - 20)) / top;
  const line = (key, color) => s("polyline", { points: points.map((p, i) => `${x(i)},${y(p[key])}`).join(" "), fill: "none", stroke: color, "stroke-width": 2 });
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${source.name}: ${bytes(stored)} stored, ${bytes(Math.max(0, logical - stored))} saved by deduplication over ${points.length} backups` },
    s("line", { x1: 10, y1: H - 10, x2: W - 10, y2: H - 10, stroke: "#d6dbe3" }),
    line("stored", "#1f5fbf"), line("saved", "#1b7f3b"),
    ...points.flatMap((p, i) => [s("circle", { cx: x(i), cy: y(p.stored), r: 3, fill: "#1f5fbf" }), s("circle", { cx: x(i), cy: y(p.saved), r: 3, fill: "#1b7f3b" })]));
  const swatch = (color) => { const sw = h("span", { class: "swatch" }); sw.style.background = color; return sw; };
  card.append(svg, h("div", { class: "legend" },
    h("span", {}, swatch("#1f5fbf"), `stored ${bytes(stored)}`),
    h("span", {}, swatch("#1b7f3b"), `saved ${bytes(Math.max(0, logical - stored))}`),
    h("span", {}, `${points.length} backups`)));
  return card;
}

// ---- backups ----

const PAGE = 25;

async function showBackups() {
  await sources();
  state.backupsCursor = [];
  const filters = { source: state.filterSource || "", text: "", status: "" };
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const sourceSelect = h("select", { name: "source", onchange: (ev) => { filters.source = ev.target.value; state.filterSource = filters.source; state.backupsCursor = []; load(); } },
    h("option", { value: "" }, "All sources"),
    state.sources.map((x) => h("option", { value: x.id, selected: x.id === filters.source }, `${x.name} (${x.kind})`)));
  const textInput = h("input", { type: "search", name: "text", placeholder: "name or tag", oninput: (ev) => { filters.text = ev.target.value.toLowerCase(); draw(); } });
  const statusSelect = h("select", { name: "status", onchange: (ev) => { filters.status = ev.target.value; draw(); } },
    ["", "succeeded", "succeeded_with_errors", "running", "queued", "failed", "delete_failed"].map((v) => h("option", { value: v }, v ? v.replaceAll("_", " ") : "Any status")));
  let page = [];

  function draw() {
    const shown = page.filter((b) => (!filters.text || `${b.name} ${b.tag || ""}`.toLowerCase().includes(filters.text)) && (!filters.status || b.state === filters.status));
    body.replaceChildren(...shown.map((b) => h("tr", {},
      h("td", {}, sourceName(b.source_id)),
      h("td", {}, h("a", { href: `#/backups/${b.id}` }, b.name), b.tag && b.tag !== b.name ? [h("br"), h("small", {}, b.tag)] : null),
      h("td", {}, b.parent_id ? h("a", { href: `#/backups/${b.parent_id}` }, "parent") : ""),
      h("td", { class: "num" }, bytes(b.size_bytes)),
      h("td", {}, stateBadge(b.state)),
      h("td", { class: "num", "data-field": "copies" }, 1 + (b.copies ? b.copies.length : 0)),
      h("td", {}, when(b.created_at)))));
    if (shown.length === 0) body.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, "No backups match.")));
  }

  async function load() {
    const marker = state.backupsCursor[state.backupsCursor.length - 1];
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (filters.source) query.set("source_id", filters.source);
    if (marker) query.set("marker", marker);
    page = await api("GET", `/admin/v1/backups?${query}`);
    draw();
    pager.replaceChildren(
      h("button", { type: "button", disabled: state.backupsCursor.length === 0, onclick: () => { state.backupsCursor.pop(); load().catch(showError); } }, "Newer"),
      h("button", { type: "button", disabled: page.length < PAGE, onclick: () => { state.backupsCursor.push(page[page.length - 1].id); load().catch(showError); } }, "Older"));
  }

  render(
    h("h1", {}, "Backups"),
    h("div", { class: "filters", role: "search" },
      h("label", {}, "Source", sourceSelect), h("label", {}, "Name or tag", textInput), h("label", {}, "Status", statusSelect)),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Source", "Name / tag", "Parent", "Size", "Status", "Copies", "Created"].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    pager);
  await load();
}

function tablesOf(backup) {
  const tables = new Set();
  for (const n of backup.nodes || []) for (const t of Object.keys((n.detail && n.detail.tables) || {})) tables.add(t);
  return [...tables].sort();
}

// A destination as people know it: its name and kind (its id when the caller cannot see it).
function destinationLabel(destinations, id) {
  const d = destinations.find((x) => x.id === id);
  if (!d) return id;
  return d.kind === "server" ? "the server's own store" : `${d.name} (${d.kind})`;
}

async function showBackup(id) {
  await sources();
  const [b, destinations] = await Promise.all([api("GET", `/admin/v1/backups/${id}`), api("GET", "/admin/v1/destinations").catch(() => [])]);
  const source = state.sources.find((x) => x.id === b.source_id);
  const nodes = (b.nodes || []).map((n) => {
    const detail = n.detail || {};
    const tables = Object.entries(detail.tables || {});
    const paths = detail.paths || detail.roots || [];
    return h("div", { class: "card" },
      h("h3", {}, `Node ${n.node_name}`),
      h("dl", { class: "facts" },
        h("dt", {}, "State"), h("dd", {}, stateBadge(n.state)),
        h("dt", {}, "Files"), h("dd", {}, n.files),
        h("dt", {}, "Size"), h("dd", {}, bytes(n.bytes)),
        h("dt", {}, "Stored"), h("dd", {}, bytes(n.stored_bytes))),
      tables.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Keyspace.table"), h("th", {}, "Files"), h("th", {}, "Size"))),
        h("tbody", {}, tables.map(([t, v]) => h("tr", {}, h("td", {}, t), h("td", { class: "num" }, v.files), h("td", { class: "num" }, bytes(v.bytes)))))) : null,
      paths.length ? h("ul", {}, paths.map((p) => h("li", {}, p))) : null);
  });
  const actions = canWrite() ? h("div", { class: "row-actions" },
    h("button", { type: "button", class: "primary", "data-action": "restore", disabled: !["succeeded", "succeeded_with_errors"].includes(b.state), onclick: () => restoreDialog(b, source).catch(showError) }, "Restore…"),
    h("button", { type: "button", "data-action": "verify", onclick: () => confirmThen(`Verify ${b.name}?`, h("p", {}, "Every chunk of the backup is read again and its hash checked."), "Verify", async () => {
      await api("POST", `/admin/v1/backups/${b.id}/verify`, {});
      toast("Verify started");
      location.hash = "#/operations";
    }) }, "Verify"),
    h("button", { type: "button", class: "danger", "data-action": "delete", onclick: () => confirmThen(`Delete ${b.name}?`, h("p", {}, "The backup and the data only it uses are removed. This cannot be undone."), "Delete", async () => {
      await api("DELETE", `/admin/v1/backups/${b.id}`);
      toast("Delete started");
      location.hash = "#/backups";
    }) }, "Delete")) : null;
  render(
    h("p", {}, h("a", { href: "#/backups" }, "← All backups")),
    h("h1", {}, b.name),
    h("dl", { class: "facts" },
      h("dt", {}, "Source"), h("dd", {}, source ? `${source.name} (${source.kind})` : b.source_id),
      h("dt", {}, "Status"), h("dd", {}, stateBadge(b.state), b.error ? ` — ${b.error}` : ""),
      h("dt", {}, "Tag"), h("dd", {}, b.tag || ""),
      h("dt", {}, "Created"), h("dd", {}, when(b.created_at)),
      h("dt", {}, "Parent"), h("dd", {}, b.parent_id ? h("a", { href: `#/backups/${b.parent_id}` }, b.parent_id) : "none (full)"),
      h("dt", {}, "Size"), h("dd", {}, `${bytes(b.size_bytes)} in ${b.file_count} files; ${bytes(b.stored_bytes)} newly stored`),
      h("dt", {}, (b.copies || []).length ? "Destinations" : "Destination"), h("dd", { "data-field": "destinations" },
        [destinationLabel(destinations, b.destination_id), ...(b.copies || []).map((c) => `${destinationLabel(destinations, c)}, a copy`)].join("; "))),
    actions,
    h("h2", {}, "Nodes"),
    h("div", { class: "cards" }, nodes));
}

// A moment for a datetime-local field (local time, to the second) and back.
function localMoment(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

async function restoreDialog(b, source) {
  const kind = source ? source.kind : "";
  // A cluster whose commitlogs are archived also restores to a moment after one of its backups.
  // Without it the dialog still offers the plain restore.
  const pit = kind === "cluster" ? await api("GET", `/admin/v1/sources/${source.id}/point-in-time`).catch(() => null) : null;
  const pitPossible = pit && pit.latest && Date.parse(pit.latest) >= Date.parse(b.created_at);
  const tables = tablesOf(b);
  const targets = [];
  if (kind === "cluster" || kind === "machine") targets.push(["same_nodes", "Back into the same source"]);
  if (kind === "cluster") targets.push(["new_cluster", "Into a new cluster"]);
  if (kind === "machine") targets.push(["path", "Into a directory"]);
  if (kind === "instance" || kind === "ha_group") targets.push(["new_instance", "Into a new instance"]);
  const targetSet = h("fieldset", {}, h("legend", {}, "Restore to"),
    targets.map(([v, text], i) => h("label", {}, h("input", { type: "radio", name: "target", value: v, checked: i === 0 }), text)));
  const nameInput = h("input", { name: "new_name", placeholder: "name of the new cluster or instance" });
  const pathInput = h("input", { name: "path", placeholder: kind === "cluster" ? "data directories, one per node, comma separated" : "/restore/here" });
  const tableSet = tables.length ? h("fieldset", {}, h("legend", {}, "Tables (none ticked: all)"),
    tables.map((t) => h("label", {}, h("input", { type: "checkbox", name: "table", value: t }), t))) : null;
  const pitToggle = h("input", { type: "checkbox", name: "point_in_time" });
  const pitInput = h("input", { type: "datetime-local", name: "moment", step: 1 });
  let pitSet = null;
  if (pitPossible) {
    pitInput.min = localMoment(b.created_at);
    pitInput.max = localMoment(pit.latest);
    pitInput.value = pitInput.max;
    pitSet = h("fieldset", {}, h("legend", {}, "Point in time"),
      h("label", {}, pitToggle, "Replay archived commitlogs up to a moment"),
      h("label", {}, "Moment (your local time)", pitInput),
      h("small", {}, `Archived up to ${when(pit.latest)}. The newest complete backup taken at or before the moment is restored, then the commitlogs after it.`));
  } else if (pit && pit.archiving) {
    pitSet = h("p", {}, h("small", {}, "Commitlogs are archived, but none yet reach past this backup: a point in time can be chosen once they do."));
  }
  const nameLabel = h("label", {}, "New name", nameInput);
  const pathLabel = h("label", {}, kind === "cluster" ? "Data directories" : "Directory", pathInput);
  // Only the fields the chosen target needs are shown.
  const fit = () => {
    const chosen = targetSet.querySelector("input[name=target]:checked").value;
    nameLabel.hidden = !["new_cluster", "new_instance"].includes(chosen);
    pathLabel.hidden = !["new_cluster", "path"].includes(chosen);
    pitInput.disabled = !pitToggle.checked;
  };
  pitToggle.addEventListener("change", fit);
  targetSet.addEventListener("change", fit);
  fit();
  const body = [targetSet, nameLabel, pathLabel, tableSet, pitSet];
  confirmThen(`Restore ${b.name}`, body, "Restore", async () => {
    const chosen = targetSet.querySelector("input[name=target]:checked").value;
    let target;
    if (chosen === "same_nodes") target = { type: "same_nodes" };
    else if (chosen === "new_cluster") target = { type: "new_cluster", name: nameInput.value, locations: pathInput.value.split(",").map((p) => p.trim()).filter(Boolean) };
    else if (chosen === "path") target = { type: "path", path: pathInput.value };
    else target = { type: "new_instance", name: nameInput.value };
    const picked = tableSet ? [...tableSet.querySelectorAll("input[name=table]:checked")].map((c) => c.value) : [];
    const request = { target };
    if (picked.length) request.selection = { tables: picked };
    if (pitPossible && pitToggle.checked) {
      if (!pitInput.value) throw new Error("Choose the moment to restore to.");
      request.at = new Date(pitInput.value).toISOString();
      await api("POST", `/admin/v1/sources/${source.id}/point-in-time/restore`, request);
    } else {
      await api("POST", `/admin/v1/backups/${b.id}/restore`, request);
    }
    toast("Restore started");
    location.hash = "#/operations";
  });
}

// ---- operations ----

async function showOperations() {
  await sources();
  const body = h("div", { class: "operations" });
  render(h("h1", {}, "Operations"), h("p", {}, "Running and recent operations; this page follows them as they go."), body);
  const details = new Map();

  async function refresh() {
    // Commitlog archive rounds run every few seconds; they are left out so they do not push the rest away.
    const ops = await api("GET", "/admin/v1/operations?limit=30&kind=backup,restore,copy,delete,verify,inventory,configure");
    const running = ops.filter((o) => ["queued", "running", "cancelling"].includes(o.state));
    await Promise.all(running.map(async (o) => details.set(o.id, await api("GET", `/admin/v1/operations/${o.id}`))));
    body.replaceChildren(h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Operation", "Source", "Status", "Progress", "Started", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ops.map((o) => {
        const detail = details.get(o.id);
        const pct = Math.round((o.state === "succeeded" ? 1 : o.progress || 0) * 100);
        const tasks = detail && detail.tasks ? detail.tasks : [];
        return h("tr", { "data-operation": o.id, "data-kind": o.kind, "data-state": o.state },
          h("td", {}, o.kind, h("br"), h("small", {}, o.id)),
          h("td", {}, o.source_id ? sourceName(o.source_id) : ""),
          h("td", {}, stateBadge(o.state), o.error ? [h("br"), h("small", {}, o.error)] : null),
          h("td", {},
            h("progress", { class: "progress", max: 100, value: pct, "aria-label": `${o.kind} ${pct}%` }), ` ${pct}%`,
            tasks.map((t) => {
              const p = t.progress || {};
              const tp = p.bytes_total ? Math.round((100 * p.bytes_done) / p.bytes_total) : (t.state === "succeeded" ? 100 : 0);
              return h("div", { class: "task" }, h("span", {}, t.node_name),
                h("progress", { class: "progress", max: 100, value: tp, "aria-label": `node ${t.node_name} ${tp}%` }),
                h("small", {}, `${p.files_done || 0}/${p.files_total || 0} files, ${bytes(p.bytes_done || 0)} of ${bytes(p.bytes_total || 0)}`));
            })),
          h("td", {}, when(o.created_at)),
          h("td", {}, canWrite() && ["queued", "running"].includes(o.state)
            ? h("button", { type: "button", class: "danger", "data-action": "cancel", onclick: () => confirmThen("Cancel this operation?", h("p", {}, `${o.kind} of ${sourceName(o.source_id)} stops; what it finished stays.`), "Cancel operation", async () => {
              await api("POST", `/admin/v1/operations/${o.id}/cancel`);
              toast("Cancelling");
            }) }, "Cancel") : ""));
      })))));
  }

  await refresh();
  state.timer = setInterval(() => {
    if (state.view === "operations") refresh().catch(showError);
  }, 1000);
}

start();
