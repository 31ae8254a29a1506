// The page of `music-tagger serve`: plain JavaScript over the /v1 API, no build step.
"use strict";

const PAGE = 50;
const state = { model: null, thresholds: {}, taught: new Set(), marks: new Map(), filters: new Map(), search: "", sort: "path", desc: false, offset: 0, total: 0, track: null };
const $ = (id) => document.getElementById(id);

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function query() {
  const q = new URLSearchParams();
  for (const [tag, min] of state.filters) { q.append("tag", tag); q.append("min", String(min)); }
  if (state.search) q.set("q", state.search);
  q.set("sort", state.sort);
  q.set("order", state.desc ? "desc" : "asc");
  return q;
}

// ------------------------------------------------------------------ tags and filters

async function loadChips() {
  const { tags } = await api("/v1/tags");
  tags.sort((a, b) => (b.taught || 0) - (a.taught || 0) || b.count - a.count);  // taught tags, then the library's
  for (const { tag, min, taught } of tags) {
    state.thresholds[tag] = min;
    if (taught && !state.taught.has(tag)) { state.taught.add(tag); $("sort").append(new Option(`${tag} score`, tag)); }
  }
  const box = $("chips");
  box.replaceChildren(...tags.map(({ tag, count, taught }) => {
    const chip = document.createElement("button");
    chip.className = "chip" + (state.filters.has(tag) ? " on" : "") + (count ? "" : " empty") + (taught ? " taught" : "");
    chip.dataset.tag = tag;
    chip.title = `${count} tracks score at least ${state.thresholds[tag].toFixed(2)} for ${tag}` + (taught ? " (a tag you taught)" : "");
    chip.append(tag);
    const n = document.createElement("span");
    n.className = "n";
    n.textContent = count;
    chip.append(n);
    chip.onclick = () => toggle(tag);
    return chip;
  }));
}

function toggle(tag) {
  if (state.filters.has(tag)) state.filters.delete(tag);
  else state.filters.set(tag, state.thresholds[tag]);
  for (const chip of $("chips").children) chip.classList.toggle("on", state.filters.has(chip.dataset.tag));
  drawFilters();
  reload();
}

function drawFilters() {
  $("no-filter").hidden = state.filters.size > 0;
  $("filters").replaceChildren(...[...state.filters].map(([tag, min]) => {
    const row = document.createElement("div");
    row.className = "filter";
    const name = document.createElement("span");
    name.textContent = tag;
    const slider = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 1, step: 0.01, value: min });
    slider.setAttribute("aria-label", `lowest ${tag} score`);
    const value = document.createElement("span");
    value.textContent = Number(min).toFixed(2);
    slider.oninput = () => { value.textContent = Number(slider.value).toFixed(2); };
    slider.onchange = () => { state.filters.set(tag, Number(slider.value)); reload(); };
    const drop = Object.assign(document.createElement("button"), { textContent: "✕", title: `stop filtering by ${tag}` });
    drop.onclick = () => toggle(tag);
    row.append(name, slider, value, drop);
    return row;
  }));
}

// ------------------------------------------------------------------ the list

let listing = 0;
async function reload(keepOffset) {
  if (!keepOffset) state.offset = 0;
  const ticket = ++listing;
  const q = query();
  q.set("limit", PAGE);
  q.set("offset", state.offset);
  q.set("scores", "true");
  const { total, tracks } = await api("/v1/tracks?" + q);
  if (ticket !== listing) return; // a later request has been made
  state.total = total;
  $("count").textContent = `${total} track${total === 1 ? "" : "s"}`;
  $("score-head").textContent = state.sort in state.thresholds ? state.sort : "";
  $("list").tBodies[0].replaceChildren(...(tracks.length ? tracks.map(row) : [emptyRow()]));
  const pages = Math.max(1, Math.ceil(total / PAGE));
  $("page").textContent = `page ${Math.floor(state.offset / PAGE) + 1} of ${pages}`;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + PAGE >= total;
}

// What an empty list means, and what to do about it (the page is used without the docs).
function emptyRow() {
  const tr = document.createElement("tr");
  tr.className = "empty";
  const td = document.createElement("td");
  td.colSpan = 4;
  const job = state.job || {};
  td.textContent = state.filters.size || state.search
    ? "No track matches: lower a filter's slider (✕ removes it) or change the search."
    : job.state === "scanning" || job.state === "tagging" || job.state === "idle"
    ? "No track tagged yet: the library is being tagged, tracks appear here as they are done."
    : job.state === "failed" ? `No track: tagging failed (${job.error}).`
    : "No track: the library folders hold no audio files. Drop a file under “Tag a file” to tag it.";
  tr.append(td);
  return tr;
}

function row(track) {
  const tr = document.createElement("tr");
  tr.dataset.id = track.id;
  tr.classList.toggle("playing", state.track === track.id);
  const name = document.createElement("td");
  name.textContent = track.path.split("/").slice(-2).join("/");
  name.title = track.path;
  const tags = document.createElement("td");
  tags.className = "tags";
  for (const [tag, score] of track.top.slice(0, 3)) {
    const chip = document.createElement("span");
    chip.textContent = `${tag} ${score.toFixed(2)}`;
    tags.append(chip);
  }
  const score = document.createElement("td");
  score.textContent = track.scores[state.sort] != null ? track.scores[state.sort].toFixed(3) : "";
  tr.append(name, tags, score, marks(track.id, tr));
  tr.onclick = () => play(track.id);
  return tr;
}

// ------------------------------------------------------------------ teaching a tag

// The ✓ and ✗ buttons of a row: mark the track as having the new tag or not (again: unmark).
function marks(id, tr) {
  const cell = document.createElement("td");
  cell.className = "marks";
  const paint = () => {
    const mark = state.marks.get(id);
    for (const b of cell.children) b.classList.toggle("on", b.dataset.mark === mark);
    tr.classList.toggle("marked-yes", mark === "yes");
    tr.classList.toggle("marked-no", mark === "no");
  };
  for (const [mark, text, title] of [["yes", "✓", "has the tag to teach"], ["no", "✗", "does not have it"]]) {
    const b = Object.assign(document.createElement("button"), { textContent: text, title, className: mark });
    b.dataset.mark = mark;
    b.setAttribute("aria-label", `${mark}: ${title}`);
    b.onclick = (event) => {
      event.stopPropagation(); // marking is not playing
      if (state.marks.get(id) === mark) state.marks.delete(id); else state.marks.set(id, mark);
      paint();
      countMarks();
    };
    cell.append(b);
  }
  paint();
  return cell;
}

function countMarks() {
  const marked = [...state.marks.values()];
  const yes = marked.filter((m) => m === "yes").length, no = marked.length - yes;
  $("teach-count").textContent = `${yes} ✓, ${no} ✗`;
  $("teach").disabled = !$("teach-name").value.trim() || yes < 3 || no < 3;
  $("teach").title = $("teach").disabled ? "name the tag and mark at least 3 tracks ✓ and 3 ✗" : "";
  return { yes, no };
}

function teachStatus(text, error) {
  $("teach-status").textContent = text;
  $("teach-status").classList.toggle("error", Boolean(error));
}

async function teach() {
  const tag = $("teach-name").value.trim();
  const pick = (mark) => [...state.marks].filter(([, m]) => m === mark).map(([id]) => id);
  $("teach").disabled = true;
  teachStatus(`teaching ${tag}…`);
  try {
    await api("/v1/teach", { method: "POST", headers: { "Content-Type": "application/json" },
                             body: JSON.stringify({ tag, yes: pick("yes"), no: pick("no") }) });
    for (;;) {
      const job = (await api("/v1/taught")).taught.find((t) => t.tag === tag);
      if (!job || job.state === "failed") throw new Error(job ? job.error : "the tag was lost");
      if (job.state === "done") break;
      const bar = Object.assign(document.createElement("progress"), { max: Math.max(job.total, 1), value: job.done });
      $("teach-status").replaceChildren(`scoring the library: ${job.done} of ${job.total}`, bar);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    teachStatus(`taught “${tag}”: its chip is under Tags, click it to filter`);
    state.marks.clear();
    $("teach-name").value = "";
    await Promise.all([loadChips(), loadTaught()]);
    reload(true);
  } catch (err) {
    teachStatus(`could not teach ${tag}: ${err.message}`, true);
  }
  countMarks();
}

async function loadTaught() {
  const { taught } = await api("/v1/taught");
  $("taught").replaceChildren(...taught.filter((t) => t.state === "done").map(({ tag, yes, no }) => {
    const li = document.createElement("li");
    li.append(`${tag} (from ${yes} ✓, ${no} ✗)`);
    const drop = Object.assign(document.createElement("button"), { textContent: "✕", className: "link-button",
                                                                 title: `forget the taught tag ${tag}` });
    drop.onclick = async () => {
      if (!confirm(`Forget the tag “${tag}” and its scores?`)) return;
      await api(`/v1/taught/${encodeURIComponent(tag)}`, { method: "DELETE" });
      state.filters.delete(tag);
      state.taught.delete(tag);
      delete state.thresholds[tag];
      for (const option of [...$("sort").options]) if (option.value === tag) option.remove();
      if (state.sort === tag) { state.sort = "path"; $("sort").value = "path"; }
      drawFilters();
      await Promise.all([loadChips(), loadTaught()]);
      reload();
    };
    li.append(drop);
    return li;
  }));
}

$("teach").addEventListener("click", teach);
$("teach-name").addEventListener("input", countMarks);
$("teach-clear").addEventListener("click", () => { state.marks.clear(); countMarks(); reload(true); });

// ------------------------------------------------------------------ player and taggram

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(v) {
  const x = Math.min(Math.max(v, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  return `rgb(${c})`;
}

// Draw the ten tags with the highest mean over the crops; returns time <-> x mapping.
function drawTaggram(canvas, taggram, duration, playhead) {
  const ctx = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height, left = 110, top = 4, bottom = 18;
  ctx.clearRect(0, 0, width, height);
  const n = taggram.start.length, tags = taggram.tags;
  const mean = tags.map((_, j) => taggram.scores.reduce((s, r) => s + r[j], 0) / n);
  const order = mean.map((m, j) => [m, j]).sort((a, b) => b[0] - a[0]).slice(0, 10).map(([, j]) => j);
  const high = Math.max(1e-3, ...order.flatMap((j) => taggram.scores.map((r) => r[j])));
  const end = duration || taggram.end[n - 1];
  const x = (t) => left + (t / end) * (width - left - 2);
  const centres = taggram.start.map((s, i) => (s + taggram.end[i]) / 2);
  const hop = n > 1 ? centres[1] - centres[0] : taggram.end[0] - taggram.start[0];
  const h = (height - top - bottom) / order.length;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  order.forEach((j, k) => {
    ctx.fillStyle = "#222";
    ctx.fillText(tags[j], 4, top + (k + 0.5) * h);
    for (let i = 0; i < n; i++) {
      const a = Math.max(0, centres[i] - hop / 2), b = Math.min(end, centres[i] + hop / 2);
      ctx.fillStyle = colour(taggram.scores[i][j] / high);
      ctx.fillRect(x(a), top + k * h, Math.max(1, x(b) - x(a) + 0.5), h - 1);
    }
  });
  ctx.fillStyle = "#555";
  ctx.fillText("0 s", left, height - 8);
  ctx.fillText(`${end.toFixed(0)} s`, width - 40, height - 8);
  if (playhead !== undefined) {
    ctx.strokeStyle = "#e33";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x(playhead), top);
    ctx.lineTo(x(playhead), height - bottom);
    ctx.stroke();
  }
  return { left, right: width - 2, end };
}

let current = null;
async function play(id) {
  const track = await api(`/v1/tracks/${id}`);
  state.track = id;
  current = track;
  for (const tr of $("list").tBodies[0].rows) tr.classList.toggle("playing", Number(tr.dataset.id) === id);
  $("player").hidden = false;
  $("now-playing").textContent = track.path;
  const audio = $("audio");
  audio.src = `/v1/tracks/${id}/audio`;
  audio.play().catch(() => {}); // a browser may refuse to start without a gesture
  redraw();
}

function redraw() {
  if (!current || !current.taggram) return;
  const audio = $("audio");
  current.scale = drawTaggram($("taggram"), current.taggram, audio.duration || 0, audio.currentTime);
}

$("audio").addEventListener("timeupdate", redraw);
$("audio").addEventListener("loadedmetadata", redraw);
$("taggram").addEventListener("click", (event) => {
  if (!current || !current.scale) return;
  const canvas = $("taggram"), box = canvas.getBoundingClientRect();
  const px = (event.clientX - box.left) * (canvas.width / box.width);
  const { left, right, end } = current.scale;
  const t = Math.min(Math.max((px - left) / (right - left), 0), 1) * end;
  $("audio").currentTime = t;
  redraw();
});

// ------------------------------------------------------------------ a dropped file

async function tagFile(file) {
  $("dropped").hidden = false;
  $("dropped-name").textContent = `${file.name}: tagging…`;
  $("dropped-tags").replaceChildren();
  try {
    const result = await api("/v1/tag?taggram=true&top_n=5", { method: "POST", body: file });
    $("dropped-name").textContent = `${file.name} (${result.timings.tag_s.toFixed(1)} s)`;
    $("dropped-tags").replaceChildren(...result.top.map(([tag, score]) => {
      const li = document.createElement("li");
      li.textContent = `${tag} ${score.toFixed(3)}`;
      return li;
    }));
    drawTaggram($("dropped-taggram"), result.taggram, 0);
  } catch (err) {
    $("dropped-name").textContent = `${file.name}: ${err.message}`;
  }
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) tagFile(e.dataTransfer.files[0]);
});
$("pick").addEventListener("change", (e) => { if (e.target.files.length) tagFile(e.target.files[0]); });

// ------------------------------------------------------------------ the job

function showJob(job) {
  state.job = job;
  const bar = $("job-bar"), text = $("job-text");
  bar.max = Math.max(job.total, 1);
  bar.value = job.state === "done" ? bar.max : job.done;
  const eta = job.eta_s ? `, ${Math.round(job.eta_s)} s left` : "";
  const errors = (job.errors ? `, ${job.errors} failed` : "")
    + (job.left_out ? `, ${job.left_out} left out (file names not UTF-8)` : "");
  text.textContent = job.state === "tagging"
    ? `tagging ${job.done} of ${job.total} (${job.files_per_second.toFixed(2)} files/s${eta}${errors})`
    : job.state === "failed" ? `tagging failed: ${job.error}`
    : `${job.state}: ${job.done} tagged, ${job.skipped} unchanged${errors}`;
}

function follow() {
  const source = new EventSource("/v1/status/events");
  let seen = 0;
  source.onmessage = (event) => {
    const job = JSON.parse(event.data);
    showJob(job);
    const ended = job.state !== "tagging" && job.state !== "scanning" && job.state !== "idle";
    if (job.done !== seen || (ended && !state.total)) { seen = job.done; loadChips(); reload(true); }
    if (ended) source.close();
  };
  source.onerror = () => source.close();
}

// ------------------------------------------------------------------ start

$("search").addEventListener("input", () => { state.search = $("search").value; reload(); });
$("sort").addEventListener("change", () => { state.sort = $("sort").value; state.desc = state.sort !== "path"; $("order").textContent = state.desc ? "↓" : "↑"; reload(); });
$("order").addEventListener("click", () => { state.desc = !state.desc; $("order").textContent = state.desc ? "↓" : "↑"; reload(); });
document.querySelector("th[data-sort=path]").addEventListener("click", () => { $("sort").value = "path"; $("sort").dispatchEvent(new Event("change")); });
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); reload(true); });
$("next").addEventListener("click", () => { state.offset += PAGE; reload(true); });

(async function start() {
  state.model = await api("/v1/model");
  for (const tag of state.model.tags) $("sort").append(new Option(`${tag} score`, tag));
  drawFilters();
  await loadChips();
  await Promise.all([reload(), loadTaught()]);
  follow();
})();
