// Agora dashboard: plain JavaScript, no build step, no network beyond this server.
// Pages (hash routes): #/map, #/influencers, #/trends, #/alerts, #/outreach, #/person/<id>.
// The API key lives in sessionStorage (this tab only); "?key=KEY" in the URL is taken once and removed.
// When a page has drawn its data, <body data-ready="<page>"> is set (tests and the benchmark wait for it).
"use strict";

const KEY = "agora.apiKey";
const view = document.getElementById("view");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (v, digits = 0) => (v === null || v === undefined ? "n/a" : Number(v).toFixed(digits));
let routeToken = 0;

(function takeKeyFromUrl() {
  const url = new URL(location.href);
  const k = url.searchParams.get("key");
  if (k) {
    sessionStorage.setItem(KEY, k);
    url.searchParams.delete("key");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
})();

class AuthError extends Error {}

async function api(path, options = {}) {
  const res = await fetch("/api/" + path, { ...options, headers: { "X-API-Key": sessionStorage.getItem(KEY) || "", ...(options.headers || {}) } });
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    throw new AuthError("key refused");
  }
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${res.status}: ${detail}`);
  }
  return res.json();
}

// -- colours ------------------------------------------------------------------------------------

function hashHue(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619); }
  return ((h >>> 0) % 360);
}
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39"];
// Community ids end in a number (c1, c2, ...): the number picks a distinct colour; other ids hash to a hue.
function communityColour(c) {
  if (!c) return "#a0a0a0";
  const m = /(\d+)$/.exec(c);
  return m ? PALETTE[(Number(m[1]) - 1 + PALETTE.length) % PALETTE.length] : `hsl(${hashHue(c)}, 62%, 48%)`;
}
function sentimentColour(s) {
  if (s === null || s === undefined) return "#a0a0a0";
  const t = Math.max(-1, Math.min(1, s));
  const [r, g, b] = t < 0 ? mix([150, 150, 150], [192, 57, 43], -t) : mix([150, 150, 150], [46, 139, 87], t);
  return `rgb(${r},${g},${b})`;
}
const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * Math.min(1, t * 1.6)));
const moodClass = (s) => (s === null || s === undefined ? "" : s > 0.15 ? "pos" : s < -0.15 ? "neg" : "mid");
const mood = (s) => `<span class="${moodClass(s)}">${s === null || s === undefined ? "n/a" : (s > 0 ? "+" : "") + Number(s).toFixed(2)}</span>`;
const personLink = (id, name) => `<a href="#/person/${encodeURIComponent(id)}">${esc(name || id)}</a>`;

// -- routing --------------------------------------------------------------------------------------

const pages = { map: showMap, influencers: showInfluencers, trends: showTrends, alerts: showAlerts, outreach: showOutreach, person: showPerson };

async function route() {
  document.body.removeAttribute("data-ready");
  if (!sessionStorage.getItem(KEY)) return showLogin();
  document.getElementById("login").hidden = true;
  document.getElementById("logout").hidden = false;
  const [page, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const name = pages[page] ? page : "map";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === name));
  const token = ++routeToken;
  view.innerHTML = '<p class="muted">Loading…</p>';
  try {
    await pages[name](view, decodeURIComponent(rest.join("/")), token);
    if (token === routeToken) {
      window.agoraReadyAt = performance.now(); // read by benchmarks/dashboard.py
      document.body.dataset.ready = name;
    }
  } catch (e) {
    if (e instanceof AuthError) return showLogin("That key was refused. Enter a valid API key.");
    if (token === routeToken) view.innerHTML = `<p class="error">Could not load this page: ${esc(e.message)}</p>`;
  }
}

function showLogin(message = "") {
  view.innerHTML = "";
  document.getElementById("logout").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
  document.getElementById("key").focus();
  document.body.dataset.ready = "login";
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, document.getElementById("key").value.trim());
  document.getElementById("key").value = "";
  route();
});
document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(); });
window.addEventListener("hashchange", route);

// -- community map ----------------------------------------------------------------------------------

async function showMap(root, arg, token) {
  const everyone = arg === "all"; // #/map/all: every person (up to 5,000), unaggregated; slow on big graphs
  const settings = { view: sessionStorage.getItem("agora.mapView") || "people", colour: sessionStorage.getItem("agora.mapColour") || "community" };
  root.innerHTML = `<h1>Community map</h1>
    <div class="controls">
      <label>Show <select id="map-view"><option value="people">most influential people</option><option value="communities">communities</option></select></label>
      <label>Colour by <select id="map-colour"><option value="community">community</option><option value="sentiment">sentiment</option></select></label>
      <span id="map-note" class="muted"></span>
    </div>
    <canvas id="map-canvas" aria-label="community map"></canvas>
    <div id="map-legend" class="legend"></div>`;
  const canvas = root.querySelector("#map-canvas");
  root.querySelector("#map-view").value = settings.view;
  root.querySelector("#map-colour").value = settings.colour;
  let data = null;

  async function load() {
    data = await api(`map?view=${settings.view}` + (everyone && settings.view === "people" ? "&limit=5000" : ""));
    if (token !== routeToken) return;
    layout(data.nodes, data.edges, settings.view);
    const inf = data.nodes.map((n) => n.influence || 0);
    [low, high] = inf.length ? [Math.min(...inf) - 0.15 * (Math.max(...inf) - Math.min(...inf)), Math.max(...inf)] : [0, 100];
    const shown = data.nodes.length;
    root.querySelector("#map-note").textContent = settings.view === "people"
      ? `${shown} most influential of ${data.total_people} people; size = influence. Click a person to open them.`
      : `${shown} communities of ${data.total_people} people; size = members.`;
    draw();
  }

  // Influence is a percentile: the top people of a big graph all sit near 100, so sizes
  // are spread over the range actually shown.
  let low = 0, high = 100;
  function radius(n) {
    if (settings.view !== "people") return 8 + 3 * Math.sqrt(n.size || 1);
    return 3 + 11 * Math.sqrt(Math.max(0, (n.influence || 0) - low) / Math.max(high - low, 1e-9));
  }
  function colour(n) { return settings.colour === "sentiment" ? sentimentColour(n.sentiment_mean) : communityColour(n.community); }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = w * dpr; canvas.height = h * dpr;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const xs = data.nodes.map((n) => n.x), ys = data.nodes.map((n) => n.y);
    const [x0, x1, y0, y1] = [Math.min(...xs, 0), Math.max(...xs, 1), Math.min(...ys, 0), Math.max(...ys, 1)];
    const s = Math.min((w - 60) / (x1 - x0 || 1), (h - 60) / (y1 - y0 || 1));
    for (const n of data.nodes) { n.sx = 30 + (n.x - x0) * s + (w - 60 - (x1 - x0) * s) / 2; n.sy = 30 + (n.y - y0) * s + (h - 60 - (y1 - y0) * s) / 2; n.r = radius(n); }
    const byId = new Map(data.nodes.map((n) => [n.id, n]));
    const maxW = Math.max(...data.edges.map((e) => e.weight || 0), 1e-9);
    ctx.lineCap = "round";
    for (const e of data.edges) {
      const a = byId.get(e.source), b = byId.get(e.target);
      if (!a || !b) continue;
      const t = (e.weight || 0) / maxW;
      ctx.strokeStyle = `rgba(90,80,70,${0.08 + 0.5 * t})`;
      ctx.lineWidth = settings.view === "people" ? 0.5 + 2 * t : 1 + 8 * t;
      ctx.beginPath(); ctx.moveTo(a.sx, a.sy); ctx.lineTo(b.sx, b.sy); ctx.stroke();
    }
    for (const n of data.nodes) {
      ctx.fillStyle = colour(n);
      ctx.beginPath(); ctx.arc(n.sx, n.sy, n.r, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.stroke();
    }
    ctx.fillStyle = "#222"; ctx.font = "11px system-ui, sans-serif";
    const labelled = [...data.nodes].sort((a, b) => b.r - a.r).slice(0, settings.view === "people" ? 15 : 50);
    for (const n of labelled) ctx.fillText(String(n.name || n.id).slice(0, 24), n.sx + n.r + 2, n.sy + 3);
    legend();
  }

  function legend() {
    const el = root.querySelector("#map-legend");
    if (settings.colour === "sentiment") {
      el.innerHTML = [["negative", -1], ["mixed", 0], ["positive", 1], ["no messages", null]]
        .map(([label, v]) => `<span style="--c:${sentimentColour(v)}">${label}</span>`).join("");
      return;
    }
    const count = new Map();
    for (const n of data.nodes) if (n.community) count.set(n.community, (count.get(n.community) || 0) + 1);
    const seen = [...count.keys()].sort((a, b) => count.get(b) - count.get(a) || a.localeCompare(b, undefined, { numeric: true }));
    el.innerHTML = seen.slice(0, 20).map((c) => `<span style="--c:${communityColour(c)}">${esc(c)}</span>`).join("")
      + (seen.length > 20 ? `<em class="muted">and ${seen.length - 20} more communities</em>` : "");
  }

  function nodeAt(ev) {
    const rect = canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    let best = null, bestD = Infinity;
    for (const n of data ? data.nodes : []) {
      const d = Math.hypot(n.sx - x, n.sy - y);
      if (d < Math.max(n.r, 5) + 2 && d < bestD) { best = n; bestD = d; }
    }
    return best;
  }
  const tip = document.getElementById("tooltip");
  canvas.addEventListener("mousemove", (ev) => {
    const n = nodeAt(ev);
    tip.hidden = !n;
    canvas.style.cursor = n ? "pointer" : "default";
    if (!n) return;
    tip.style.left = ev.clientX + 12 + "px"; tip.style.top = ev.clientY + 12 + "px";
    tip.textContent = settings.view === "people"
      ? `${n.name || n.id} · ${n.community || "no community"} · influence ${fmt(n.influence)} · sentiment ${fmt(n.sentiment_mean, 2)}`
      : `${n.id} (${n.name || ""}) · ${n.size} people · mood ${fmt(n.sentiment_mean, 2)}`;
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  canvas.addEventListener("click", (ev) => {
    const n = nodeAt(ev);
    if (!n) return;
    tip.hidden = true;
    location.hash = settings.view === "people" ? `#/person/${encodeURIComponent(n.id)}` : `#/influencers/${encodeURIComponent(n.id)}`;
  });
  root.querySelector("#map-view").addEventListener("change", (ev) => { settings.view = ev.target.value; sessionStorage.setItem("agora.mapView", settings.view); load(); });
  root.querySelector("#map-colour").addEventListener("change", (ev) => { settings.colour = ev.target.value; sessionStorage.setItem("agora.mapColour", settings.colour); draw(); });
  window.addEventListener("resize", () => { if (data && document.body.contains(canvas)) draw(); });
  await load();
}

// A small force layout (Fruchterman-Reingold): communities start on a circle so it converges in few steps.
function layout(nodes, edges, kind) {
  let seed = 42;
  const rand = () => ((seed = Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 4294967296;
  const groups = [...new Set(nodes.map((n) => n.community || "-"))].sort();
  nodes.forEach((n) => {
    const a = (2 * Math.PI * groups.indexOf(n.community || "-")) / groups.length;
    n.x = Math.cos(a) * 300 + (rand() - 0.5) * 120; n.y = Math.sin(a) * 300 + (rand() - 0.5) * 120;
  });
  const byId = new Map(nodes.map((n, i) => [n.id, i]));
  const links = edges.map((e) => [byId.get(e.source), byId.get(e.target), e.weight || 0]).filter(([a, b]) => a !== undefined && b !== undefined && a !== b);
  const maxW = Math.max(...links.map((l) => l[2]), 1e-9);
  const n = nodes.length;
  const k = Math.sqrt((800 * 800) / Math.max(n, 1)) * (kind === "people" ? 0.9 : 1.2);
  const iterations = n > 1500 ? 15 : n > 600 ? 40 : 120;
  let temp = 80;
  const far = 9 * k * k;
  const dx = new Float64Array(n), dy = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    dx.fill(0); dy.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let ux = nodes[i].x - nodes[j].x, uy = nodes[i].y - nodes[j].y;
        const d2 = ux * ux + uy * uy + 0.01;
        if (d2 > far) continue; // far nodes do not push: keeps communities close together
        const f = (k * k) / d2;
        ux *= f; uy *= f; dx[i] += ux; dy[i] += uy; dx[j] -= ux; dy[j] -= uy;
      }
    }
    for (const [a, b, w] of links) {
      const ux = nodes[a].x - nodes[b].x, uy = nodes[a].y - nodes[b].y;
      const d = Math.sqrt(ux * ux + uy * uy) + 0.01, f = (d / k) * (0.05 + 0.4 * w / maxW);
      dx[a] -= ux * f; dy[a] -= uy * f; dx[b] += ux * f; dy[b] += uy * f;
    }
    for (let i = 0; i < n; i++) {
      dx[i] -= nodes[i].x * 0.05; dy[i] -= nodes[i].y * 0.05; // gravity keeps islands in view
      const len = Math.hypot(dx[i], dy[i]) || 1, step = Math.min(len, temp);
      nodes[i].x += (dx[i] / len) * step; nodes[i].y += (dy[i] / len) * step;
    }
    temp *= 0.96;
  }
}

// -- influencers ------------------------------------------------------------------------------------

async function showInfluencers(root, community, token) {
  const communities = await api("communities");
  const q = { q: "", community: community || "", min_influence: "", min_churn_risk: "", sort: "influence", offset: 0, limit: 50 };
  root.innerHTML = `<h1>Influencers</h1>
    <form class="controls" id="people-filter">
      <label>Search <input name="q" placeholder="name or handle" size="18"></label>
      <label>Community <select name="community"><option value="">all</option>${communities.map((c) => `<option value="${esc(c.id)}">${esc(c.id)} · ${esc(c.label)} (${c.size})</option>`).join("")}</select></label>
      <label>Influence ≥ <input name="min_influence" type="number" min="0" max="100" step="1" size="4"></label>
      <label>Churn risk ≥ <input name="min_churn_risk" type="number" min="0" max="1" step="0.05" size="4"></label>
      <label>Sort <select name="sort"><option value="influence">influence</option><option value="community_influence">influence in community</option><option value="churn_risk">churn risk</option><option value="sentiment">sentiment</option><option value="intensity">engagement</option><option value="name">name</option></select></label>
      <button class="primary" type="submit">Apply</button>
    </form>
    <div id="people-table"></div>
    <div class="pager"><button id="prev" type="button">‹ Previous</button><span id="page-note" class="muted"></span><button id="next" type="button">Next ›</button></div>`;
  const form = root.querySelector("#people-filter");
  form.community.value = q.community;

  async function load() {
    const params = new URLSearchParams({ sort: q.sort, limit: q.limit, offset: q.offset });
    for (const k of ["q", "community", "min_influence", "min_churn_risk"]) if (q[k] !== "") params.set(k, q[k]);
    const page = await api("people?" + params);
    if (token !== routeToken) return;
    root.querySelector("#people-table").innerHTML = `<table><thead><tr><th>Person</th><th>Community</th><th class="num">Influence</th><th class="num">In community</th><th class="num">Engagement</th><th class="num">Sentiment</th><th class="num">Churn risk</th><th>Accounts</th></tr></thead><tbody>
      ${page.items.map((p) => `<tr class="link" data-id="${esc(p.id)}"><td>${personLink(p.id, p.name)}</td><td>${esc(p.community || "")}</td><td class="num">${fmt(p.influence)}</td><td class="num">${fmt(p.community_influence)}</td><td class="num">${fmt(p.intensity, 1)}</td><td class="num">${mood(p.sentiment_mean)}</td><td class="num">${fmt(p.churn_risk, 2)}</td><td class="muted">${esc(p.accounts.join(", "))}</td></tr>`).join("") || '<tr><td colspan="8" class="muted">Nobody matches these filters.</td></tr>'}
      </tbody></table>`;
    root.querySelector("#page-note").textContent = page.total ? `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}` : "0 people";
    root.querySelector("#prev").disabled = page.offset === 0;
    root.querySelector("#next").disabled = page.offset + page.items.length >= page.total;
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    for (const k of ["q", "community", "min_influence", "min_churn_risk", "sort"]) q[k] = form[k].value.trim();
    q.offset = 0;
    load();
  });
  root.querySelector("#people-table").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-id]");
    if (row && ev.target.tagName !== "A") location.hash = `#/person/${encodeURIComponent(row.dataset.id)}`;
  });
  root.querySelector("#prev").addEventListener("click", () => { q.offset = Math.max(0, q.offset - q.limit); load(); });
  root.querySelector("#next").addEventListener("click", () => { q.offset += q.limit; load(); });
  await load();
}

// -- sentiment trends ---------------------------------------------------------------------------------

async function showTrends(root, _arg, token) {
  let bucket = "week";
  root.innerHTML = `<h1>Sentiment trends</h1>
    <div class="controls"><label>Per <select id="bucket"><option value="week">week</option><option value="day">day</option></select></label>
    <span class="muted">Mean polarity of the messages of each community (−1 negative … +1 positive).</span></div>
    <canvas id="trend-canvas" aria-label="sentiment trends"></canvas><div id="trend-legend" class="legend"></div>
    <p id="trend-note" class="muted"></p>
    <h2>Latest mood</h2><div id="trend-table"></div>`;
  const canvas = root.querySelector("#trend-canvas");
  let data = null;

  const MAX_LINES = 12; // more lines than this are unreadable: the communities with most messages are drawn
  function draw() {
    const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    const drawn = [...data.communities].sort((a, b) => total(b) - total(a)).slice(0, MAX_LINES);
    canvas.width = w * dpr; canvas.height = h * dpr;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const periods = [...new Set(data.communities.flatMap((c) => c.series.map((p) => p.period)))].sort();
    const left = 40, right = 10, top = 10, bottom = 28;
    const x = (p) => left + (periods.length < 2 ? 0.5 : periods.indexOf(p) / (periods.length - 1)) * (w - left - right);
    const y = (v) => top + ((1 - v) / 2) * (h - top - bottom);
    ctx.strokeStyle = "#ddd"; ctx.fillStyle = "#666"; ctx.font = "11px system-ui, sans-serif";
    for (const v of [-1, -0.5, 0, 0.5, 1]) {
      ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(w - right, y(v)); ctx.stroke();
      ctx.fillText(v.toFixed(1), 4, y(v) + 4);
    }
    const every = Math.max(1, Math.ceil(periods.length / 10));
    periods.forEach((p, i) => { if (i % every === 0) ctx.fillText(p.slice(5), Math.min(x(p) - 14, w - 40), h - 8); });
    for (const c of drawn) {
      ctx.strokeStyle = communityColour(c.id); ctx.fillStyle = ctx.strokeStyle; ctx.lineWidth = 2;
      ctx.beginPath();
      c.series.forEach((p, i) => (i ? ctx.lineTo(x(p.period), y(p.mood)) : ctx.moveTo(x(p.period), y(p.mood))));
      ctx.stroke();
      for (const p of c.series) { ctx.beginPath(); ctx.arc(x(p.period), y(p.mood), 2.5, 0, 2 * Math.PI); ctx.fill(); }
    }
    root.querySelector("#trend-note").textContent = drawn.length < data.communities.length
      ? `The ${drawn.length} busiest of ${data.communities.length} communities are drawn; the table lists all.` : "";
    root.querySelector("#trend-legend").innerHTML = drawn.map((c) => `<span style="--c:${communityColour(c.id)}">${esc(c.id)} · ${esc(c.label || "")}</span>`).join("");
  }

  const total = (c) => c.series.reduce((n, p) => n + p.messages, 0);
  async function load() {
    data = await api(`trends?bucket=${bucket}`);
    if (token !== routeToken) return;
    draw();
    root.querySelector("#trend-table").innerHTML = `<table><thead><tr><th>Community</th><th>Latest ${bucket}</th><th class="num">Messages</th><th class="num">Mood</th><th class="num">Change</th></tr></thead><tbody>
      ${data.communities.map((c) => {
        const last = c.series[c.series.length - 1] || {}, prev = c.series[c.series.length - 2];
        return `<tr><td><a href="#/influencers/${encodeURIComponent(c.id)}">${esc(c.id)} · ${esc(c.label || "")}</a></td><td>${esc(last.period || "")}</td><td class="num">${last.messages ?? 0}</td><td class="num">${mood(last.mood)}</td><td class="num">${prev ? mood(last.mood - prev.mood) : "n/a"}</td></tr>`;
      }).join("")}</tbody></table>`;
  }
  root.querySelector("#bucket").addEventListener("change", (ev) => { bucket = ev.target.value; load(); });
  window.addEventListener("resize", () => { if (data && document.body.contains(canvas)) draw(); });
  await load();
}

// -- alerts ---------------------------------------------------------------------------------------------

async function showAlerts(root, _arg, token) {
  root.innerHTML = `<h1>Alerts</h1>
    <div class="controls"><label>Since <input id="since" type="date"></label><label><input id="open-only" type="checkbox"> not acknowledged only</label></div>
    <div id="alert-list"></div>`;
  async function load() {
    const since = root.querySelector("#since").value;
    const alerts = await api("alerts?limit=200" + (since ? `&since=${since}T00:00:00Z` : ""));
    if (token !== routeToken) return;
    const openOnly = root.querySelector("#open-only").checked;
    const shown = alerts.filter((a) => !openOnly || !a.acknowledged);
    root.querySelector("#alert-list").innerHTML = shown.map((a) => `
      <article class="card alert ${a.acknowledged ? "acked" : ""}">
        <div><span class="badge ${esc(a.severity)}">${esc(a.severity)}</span> <b>${esc(a.title)}</b>
          <span class="muted">· ${esc(new Date(a.created_at).toLocaleString())}</span></div>
        <p class="muted">${esc(a.reason)}</p>
        <p>About: ${a.subject_kind === "Person" ? personLink(a.subject, a.subject) : `<a href="#/influencers/${encodeURIComponent(a.subject)}">community ${esc(a.subject)}</a>`}</p>
        ${(a.evidence || []).map((e) => `<blockquote>${esc(e.text ?? "(text removed)")} <span class="${moodClass(e.polarity)}">${fmt(e.polarity, 2)}</span></blockquote>`).join("")}
        ${a.acknowledged ? '<span class="muted">acknowledged</span>' : `<button type="button" data-ack="${esc(a.id)}">Acknowledge</button>`}
      </article>`).join("") || '<p class="muted">No alerts.</p>';
  }
  root.querySelector("#alert-list").addEventListener("click", async (ev) => {
    const id = ev.target.dataset && ev.target.dataset.ack;
    if (!id) return;
    ev.target.disabled = true;
    await api(`alerts/${encodeURIComponent(id)}/ack`, { method: "POST" });
    await load();
  });
  root.querySelector("#since").addEventListener("change", load);
  root.querySelector("#open-only").addEventListener("change", load);
  await load();
}

// -- outreach ---------------------------------------------------------------------------------------------

async function showOutreach(root, _arg, token) {
  root.innerHTML = "<h1>Outreach</h1><p class=\"muted\">Whom to contact first, and why.</p><div id=\"outreach\"></div>";
  const rows = await api("outreach?limit=50");
  if (token !== routeToken) return;
  const known = rows.length && rows.every((r) => "id" in r && "reason" in r);
  root.querySelector("#outreach").innerHTML = !known ? renderValue(rows) : `<table><thead><tr><th>Person</th><th>Action</th><th class="num">Priority</th><th>Why</th><th>Community</th><th class="num">Influence</th><th class="num">Churn risk</th><th class="num">Sentiment</th></tr></thead><tbody>
    ${rows.map((r) => `<tr><td>${personLink(r.id, r.name)}</td><td><b>${esc(r.action ?? "")}</b></td><td class="num">${fmt(r.priority, 2)}</td><td>${esc(r.reason)}</td><td>${esc(r.community ?? "")}</td><td class="num">${fmt(r.influence)}</td><td class="num">${fmt(r.churn_risk, 2)}</td><td class="num">${mood(r.sentiment_mean)}</td></tr>`).join("")}</tbody></table>`;
}

// -- person -------------------------------------------------------------------------------------------------

async function showPerson(root, id, token) {
  const p = await api(`people/${encodeURIComponent(id)}?messages=30`);
  if (token !== routeToken) return;
  const stat = (label, value) => `<div class="stat"><span class="muted">${label}</span><b>${value}</b></div>`;
  root.innerHTML = `<h1>${esc(p.name || p.id)} ${p.brand ? '<span class="badge info">brand</span>' : ""}</h1>
    <div class="card grid">
      ${stat("Community", p.community ? `<a href="#/influencers/${encodeURIComponent(p.community)}">${esc(p.community)}</a> <span class="muted">${esc(p.community_label || "")}</span>` : "none")}
      ${stat("Influence (overall)", fmt(p.influence))}${stat("Influence in community", fmt(p.community_influence))}
      ${stat("Engagement", fmt(p.intensity, 1))}${stat("Sentiment", mood(p.sentiment_mean))}${stat("Messages", p.messages)}
      ${stat("Churn risk", fmt(p.churn_risk, 2))}${stat("Sway", fmt(p.sway, 2))}${stat("Susceptibility", fmt(p.susceptibility, 2))}
    </div>
    <div class="card"><h2>Accounts</h2><ul class="plain">${p.accounts.map((a) => `<li>${esc(a.platform)} · <b>${esc(a.handle || "")}</b> <span class="muted">${esc(a.key)}</span></li>`).join("")}</ul></div>
    ${p.churn_factors ? `<div class="card"><h2>Churn factors</h2>${renderValue(p.churn_factors)}</div>` : ""}
    <div class="card" id="explanation"><h2>Why these scores</h2><p class="muted">Loading…</p></div>
    <div class="card"><h2>Talks most with</h2><ul class="plain">${p.top_contacts.map((c) => `<li>${personLink(c.id, c.name)} <span class="muted">weight ${fmt(c.weight, 2)}, ${c.count} interactions</span></li>`).join("") || '<li class="muted">nobody yet</li>'}</ul></div>
    <div class="card"><h2>Recent messages</h2><ul class="plain">${p.recent_messages.map((m) => `<li><span class="muted">${esc(new Date(m.ts).toLocaleString())} · ${esc(m.platform)} ${esc(m.kind)}</span> <span class="${moodClass(m.polarity)}">${fmt(m.polarity, 2)}</span><br>${esc(m.text ?? "(text removed)")}</li>`).join("") || '<li class="muted">none</li>'}</ul></div>`;
  const ex = await api(`people/${encodeURIComponent(id)}/explanation`);
  if (token !== routeToken) return;
  root.querySelector("#explanation").innerHTML = `<h2>Why these scores</h2>${renderValue(ex)}`;
}

// Render any JSON (explanations, outreach rows) readably: lists of records as tables, records as definition lists.
function renderValue(v, depth = 0) {
  if (v === null || v === undefined) return '<span class="muted">n/a</span>';
  if (Array.isArray(v)) {
    if (v.length && v.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
      const cols = [...new Set(v.flatMap((x) => Object.keys(x)))];
      return `<table><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${v.map((x) => `<tr>${cols.map((c) => `<td>${c === "id" && typeof x[c] === "string" && "name" in x ? personLink(x[c], x.name || x[c]) : renderValue(x[c], depth + 1)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
    }
    return esc(v.map((x) => (typeof x === "object" ? JSON.stringify(x) : x)).join(", "));
  }
  if (typeof v === "object") {
    if (depth > 2) return esc(JSON.stringify(v));
    return `<dl>${Object.entries(v).map(([k, x]) => `<dt><b>${esc(k.replace(/_/g, " "))}</b></dt><dd>${renderValue(x, depth + 1)}</dd>`).join("")}</dl>`;
  }
  if (typeof v === "number") return esc(Number.isInteger(v) ? v : v.toFixed(3));
  return esc(v);
}

route();
