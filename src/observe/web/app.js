// troupe's web view. The node pushes the whole view over one WebSocket (/ws) every tick; the page
// sends back only its choices: the table's sort key and the actor it shows. Writes (kill) go to
// the JSON API with the token typed in the header (or given in the address: #token=...).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { sort: "mailbox", actor: 0, closed: new Set(), tree_key: "", ws: null, last: null };

const fmt_bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB"
  : n >= 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B";
const fmt_rate = (r) => r >= 1e6 ? (r / 1e6).toFixed(2) + "M" : r >= 1e3 ? (r / 1e3).toFixed(1) + "k" : r.toFixed(r < 10 ? 1 : 0);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
// A protocol's type is often a long std::variant<...>: show its first message type and how many
// more, the whole type in the tooltip.
function short_type(t) {
  const m = /^std::variant<(.*)>$/.exec(t || "");
  if (!m) return t || "";
  const parts = [];
  let depth = 0, start = 0;
  for (let i = 0; i < m[1].length; ++i) {
    const c = m[1][i];
    if (c === "<" || c === "(") ++depth; else if (c === ">" || c === ")") --depth;
    else if (c === "," && depth === 0) { parts.push(m[1].slice(start, i).trim()); start = i + 1; }
  }
  parts.push(m[1].slice(start).trim());
  const first = parts[0].replace(/^.*::/, "");
  return parts.length > 1 ? `${first} +${parts.length - 1}` : first;
}
const type_html = (t) => `<span title="${esc(t)}">${esc(short_type(t))}</span>`;
const label = (a) => (a.name ? a.name : short_type(a.type) || "actor");

function notice(text) {
  $("#notice").textContent = text;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { $("#notice").textContent = ""; }, 4000);
}

function send_choice() {
  if (state.ws && state.ws.readyState === WebSocket.OPEN)
    state.ws.send(JSON.stringify({ sort: state.sort, actor: state.actor }));
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => { $("#link").textContent = "live"; $("#link").className = "up"; send_choice(); };
  ws.onmessage = (e) => { state.last = JSON.parse(e.data); render(state.last); };
  ws.onclose = () => {
    $("#link").textContent = "reconnecting"; $("#link").className = "down";
    setTimeout(connect, 1000);
  };
}

function render(v) {
  render_status(v.status, v.series);
  render_tree(v.tree);
  render_table(v.table, v.sort);
  render_actor(v.actor);
  plot($("#rate-plot"), v.series.map((p) => [p[0], p[1]]), fmt_rate);
  plot($("#memory-plot"), v.series.map((p) => [p[0], p[2]]), fmt_bytes);
  render_workers(v.status.workers);
  render_dead(v.dead_letters);
  render_listeners(v.status.listeners || []);
  render_nodes(v.nodes);
}

function render_status(s, series) {
  const rate = series.length ? series[series.length - 1][1] : 0;
  const facts = [["up", Math.round(s.uptime_s) + " s"], ["actors", s.actors], ["msg/s", fmt_rate(rate)],
    ["memory", fmt_bytes(s.memory)], ["restarts", s.restarts], ["dead letters", s.dead_letters], ["connections", s.connections],
    ["view", s.view_refresh_ms.toFixed(1) + " ms/refresh"]];
  if (!s.introspection) notice("this system was started without system_config::introspection: no actors to show");
  $("#status").innerHTML = facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${esc(v)}</dd></div>`).join("");
}

function kill_button(id, name) {
  return `<button class="kill" data-kill="${id}" title="kill ${esc(name)} (needs the token)">kill</button>`;
}

function tree_html(nodes) {
  return nodes.map((n) => {
    const has = n.children.length > 0 || n.more > 0;
    const closed = state.closed.has(n.id);
    const cls = [has ? "" : "leaf", closed ? "closed" : ""].join(" ");
    return `<li class="${cls}" data-id="${n.id}" data-name="${esc(n.name)}">` +
      `<span class="node ${n.supervisor ? "sup" : ""}">` +
      `<span class="toggle">${has ? (closed ? "\u25B8" : "\u25BE") : ""}</span>` +
      `<span class="name" data-select="${n.id}" title="${esc(n.type)}">${esc(n.name || short_type(n.type))}</span>` +
      `<span class="id">#${n.id}</span>` +
      (n.name ? `<span class="muted">${type_html(n.type)}</span>` : "") +
      (n.restarts ? `<span class="restarts">${n.restarts} restarts</span>` : "") +
      kill_button(n.id, n.name || short_type(n.type)) + `</span>` +
      (has ? `<ul>${tree_html(n.children)}${n.more ? `<li class="muted">and ${n.more} more</li>` : ""}</ul>` : "") +
      `</li>`;
  }).join("");
}

function render_tree(trees) {
  const key = JSON.stringify(trees) + [...state.closed].join(",");
  if (key === state.tree_key) return;  // unchanged: keep the DOM (and a button under the mouse)
  state.tree_key = key;
  $("#tree").innerHTML = tree_html(trees);
}

function render_table(rows, sort) {
  document.querySelectorAll("#table th.sort").forEach((th) => th.classList.toggle("on", th.dataset.sort === sort));
  $("#sorted").textContent = `top ${rows.length} by ${sort}`;
  $("#table tbody").innerHTML = rows.map((a) =>
    `<tr data-select="${a.id}" data-id="${a.id}" class="${a.id === state.actor ? "selected" : ""}">` +
    `<td>${a.id}</td><td>${esc(a.name)}</td><td>${type_html(a.type)}</td><td>${esc(a.state)}</td>` +
    `<td class="num">${a.mailbox}</td><td class="num">${a.messages}</td><td class="num">${fmt_rate(a.rate)}</td>` +
    `<td class="num">${a.restarts}</td><td class="num">${fmt_bytes(a.memory)}</td><td>${kill_button(a.id, label(a))}</td></tr>`).join("");
}

function actor_links(ids, remote) {
  // Actors on other nodes have no page here: shown as #id@node, not as links.
  const far = (remote || []).map((r) => `<span class="remote" title="on node ${esc(r.node)}">#${r.id}@${esc(r.node)}</span>`);
  const all = ids.map((i) => `<a class="actor" data-select="${i}">#${i}</a>`).concat(far);
  return all.length ? all.join("") : "<span class=muted>none</span>";
}

function render_actor(a) {
  const panel = $("#actor-panel");
  if (!a) { panel.hidden = true; return; }
  panel.hidden = false;
  $("#actor-title").textContent = `#${a.id}` + (a.name ? ` ${a.name}` : "");
  if (a.gone) {
    $("#actor-facts").innerHTML = `<dt>state</dt><dd>gone (stopped)</dd>`;
  } else {
    const facts = [["type", type_html(a.type)], ["state", esc(a.state)], ["parent", a.parent ? actor_links([a.parent]) : "top level"],
      ["mailbox", a.mailbox], ["messages", a.messages], ["msg/s", fmt_rate(a.rate)], ["restarts", a.restarts],
      ["memory", fmt_bytes(a.memory)], ["children", actor_links(a.children)], ["links", actor_links(a.links, a.remote_links)],
      ["watches", actor_links(a.monitors, a.remote_monitors)], ["watched by", actor_links(a.monitored_by, a.remote_monitored_by)], ["", kill_button(a.id, label(a))]];
    $("#actor-facts").innerHTML = facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  }
  plot($("#mailbox-plot"), a.mailbox_history || [], (n) => String(Math.round(n)));
}

// A polyline over the last minutes, scaled to its own maximum; the axis labels are the maximum
// and the span.
function plot(svg, points, fmt) {
  const w = 400, h = 80;
  if (points.length < 2) { svg.innerHTML = `<text x="4" y="12">collecting</text>`; return; }
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  const max = Math.max(1e-9, ...points.map((p) => p[1]));
  const xy = points.map((p) => `${((p[0] - t0) / Math.max(1e-9, t1 - t0) * w).toFixed(1)},${(h - 4 - p[1] / max * (h - 16)).toFixed(1)}`);
  svg.innerHTML = `<polyline points="${xy.join(" ")}"/><text x="4" y="10">max ${esc(fmt(max))}</text>` +
    `<text x="${w - 4}" y="${h - 3}" text-anchor="end">last ${Math.round(t1 - t0)} s</text>`;
}

function render_workers(ws) {
  $("#workers tbody").innerHTML = ws.map((w, i) =>
    `<tr><td>${i}</td><td class="num">${w.turns}</td><td class="num">${w.steals}</td><td class="num">${w.parked_s.toFixed(1)} s</td></tr>`).join("");
}

function render_listeners(ls) {
  $("#listeners tbody").innerHTML = ls.length ? ls.map((l) =>
    `<tr data-listener="${esc(l.name)}"><td>${esc(l.name)}</td><td class="num">${l.connections}</td></tr>`).join("")
    : `<tr><td colspan="2" class="muted">none counted</td></tr>`;
}

// Shown only when the program gave the view a list of nodes (web_view_options::nodes).
function render_nodes(ns) {
  $("#nodes-panel").hidden = !ns;
  if (!ns) return;
  $("#nodes tbody").innerHTML = ns.length ? ns.map((n) =>
    `<tr data-node="${esc(n.name)}"><td>${esc(n.name)}</td><td>${esc(n.address)}</td>` +
    `<td class="node-${esc(n.status)}">${esc(n.status)}</td><td class="muted">${esc(n.detail)}</td></tr>`).join("")
    : `<tr><td colspan="4" class="muted">none</td></tr>`;
}

function render_dead(ds) {
  $("#dead tbody").innerHTML = ds.length ? ds.map((d) =>
    `<tr><td>${esc(new Date(d.at_unix_s * 1000).toLocaleTimeString())}</td><td>${esc(d.recipient_name || "#" + d.recipient)}</td><td>${esc(d.message_type)}</td><td>${esc(d.reason)}</td></tr>`).join("")
    : `<tr><td colspan="4" class="muted">none</td></tr>`;
}

async function kill(id) {
  const token = $("#token").value;
  if (!token) { notice("kill needs the token the view was started with"); return; }
  const r = await fetch(`/api/actors/${id}/kill`, { method: "POST", headers: { Authorization: "Bearer " + token } });
  const body = await r.json().catch(() => ({}));
  notice(r.ok ? `killed #${id}` : `kill #${id}: ${r.status} ${body.error || ""}`);
}

document.addEventListener("click", (e) => {
  const k = e.target.closest("[data-kill]");
  if (k) { e.stopPropagation(); kill(Number(k.dataset.kill)); return; }
  const t = e.target.closest(".toggle");
  if (t) {
    const id = Number(t.closest("li").dataset.id);
    if (state.closed.has(id)) state.closed.delete(id); else state.closed.add(id);
    if (state.last) render_tree(state.last.tree);
    return;
  }
  const th = e.target.closest("th.sort");
  if (th) { state.sort = th.dataset.sort; send_choice(); return; }
  const s = e.target.closest("[data-select]");
  if (s) { state.actor = Number(s.dataset.select); send_choice(); return; }
});
$("#actor-close").addEventListener("click", () => { state.actor = 0; send_choice(); });

const m = location.hash.match(/token=([^&]+)/);
if (m) $("#token").value = decodeURIComponent(m[1]);
connect();
