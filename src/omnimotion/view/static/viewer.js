// omnimotion view: the page. Frames come from /frames/N, tracks from the JSON API (omnimotion/view/server.py).
// Pixels follow omnimotion.coords: (x, y) with pixel centres at integers, frames counted from 0.
// State is kept in window.viewer.state so that tests (and curious users) can read what is drawn.
"use strict";

const POINT_COLORS = ["#ff4d6d", "#4dabf7", "#69db7c", "#ffa94d", "#b197fc", "#3bc9db", "#f783ac",
                      "#ffd43b", "#a9e34b", "#ff8787"];
const MAX_DRAWN_REGION_POINTS = 400;   // a region keeps every track for export, but draws a subsample
const MIN_DRAWN_SPACING_PX = 9;        // ... whose points are at least this far apart on screen
const DRAG_THRESHOLD_PX = 5;           // a press that moves further than this is a rectangle, not a click
const FADED_ALPHA = 0.45;              // occluded points and trail segments, as omnimotion.viz draws them
const WARM_AFTER_MS = 250;             // a frame shown this long, not playing, is likely to be clicked on

const state = {
  info: null, frame: 0, playing: false, trail: 10, showOccluded: true, depth: false,
  items: [], nextId: 1, nextColor: 0, busy: false, lastClickMs: null,
};
const images = { frames: [], depth: [] };
const $ = (id) => document.getElementById(id);
const canvas = $("view");
const ctx = canvas.getContext("2d");
let scale = 1;            // display pixels per image pixel
let drag = null;          // {x0, y0, x1, y1} in canvas pixels (image pixels x scale) while the mouse is down
let playTimer = null;
let warmTimer = null;

// ----- start-up -------------------------------------------------------------------------------------------
async function start() {
  const response = await fetch("/api/info");
  state.info = await response.json();
  const info = state.info;
  const [h, w] = info.image_hw;
  $("run-info").textContent = `${info.name} · ${info.num_frames} frames · ${w}×${h} px · ${info.fps} fps · ` +
    `${info.checkpoint} · flow evidence: ${info.flow_evidence}`;
  const [eh, ew] = info.export_hw;
  $("export-note").textContent = `Exports are in ${ew}×${eh} px` +
    (ew !== w || eh !== h ? " (the source video's size)." : ".");
  $("frame").max = info.num_frames - 1;
  $("trail").max = info.num_frames;
  state.trail = Math.min(state.trail, info.num_frames);
  $("trail").value = state.trail;
  $("trail-label").textContent = String(state.trail);
  $("depth").disabled = !info.has_depth;
  if (!info.has_depth) $("depth").parentElement.title = "this model has no depth";
  fitCanvas();
  images.frames = await loadImages("frames");
  setFrame(0);
  document.body.dataset.ready = "1";
}

function loadImages(kind) {
  return Promise.all(Array.from({ length: state.info.num_frames }, (_, i) => new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`cannot load /${kind}/${i}`));
    image.src = `/${kind}/${i}`;
  })));
}

function fitCanvas() {
  const [h, w] = state.info.image_hw;
  const room = Math.max(240, Math.min(window.innerWidth - 380, (window.innerHeight - 150) * w / h, 960));
  scale = Math.max(0.25, Math.floor(room / w * 4) / 4);
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = `${w * scale}px`;
  canvas.style.height = `${h * scale}px`;
  document.querySelector(".stage").style.width = `${w * scale}px`;
  canvas.width = Math.round(w * scale * ratio);
  canvas.height = Math.round(h * scale * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
}

// ----- drawing -----------------------------------------------------------------------------------------------
function draw() {
  const [h, w] = state.info.image_hw;
  const t = state.frame;
  const image = (state.depth ? images.depth : images.frames)[t];
  ctx.imageSmoothingEnabled = scale < 2;
  if (image) ctx.drawImage(image, 0, 0, w * scale, h * scale);
  for (const item of state.items) {
    const big = item.kind === "point";
    for (const i of item.drawn) drawTrack(item.tracks[i], item.occluded[i], item.colors[i], t, big);
  }
  if (drag) drawRectangle();
  $("frame").value = t;
  $("frame-label").textContent = `${t} / ${state.info.num_frames - 1}`;
  canvas.dataset.frame = String(t);
}

const toDisplay = (value) => (value + 0.5) * scale;

function drawTrack(track, occluded, color, t, big) {
  if (occluded[t] && !state.showOccluded) return;
  const first = Math.max(0, t - state.trail);
  ctx.strokeStyle = color;
  ctx.lineWidth = big ? 2 : 1;
  for (let s = first; s < t; s++) {  // a trail segment is faded and dashed when either end is hidden
    const hidden = occluded[s] || occluded[s + 1];
    ctx.globalAlpha = hidden ? FADED_ALPHA : 1;
    ctx.setLineDash(hidden ? [3, 3] : []);
    ctx.beginPath();
    ctx.moveTo(toDisplay(track[s][0]), toDisplay(track[s][1]));
    ctx.lineTo(toDisplay(track[s + 1][0]), toDisplay(track[s + 1][1]));
    ctx.stroke();
  }
  ctx.setLineDash([]);
  const radius = big ? 5 : 2.5;
  ctx.beginPath();
  ctx.arc(toDisplay(track[t][0]), toDisplay(track[t][1]), radius, 0, 2 * Math.PI);
  if (occluded[t]) {
    ctx.globalAlpha = FADED_ALPHA;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  } else {
    ctx.globalAlpha = 1;
    ctx.fillStyle = color;
    ctx.fill();
    if (big) { ctx.strokeStyle = "rgba(0,0,0,0.7)"; ctx.lineWidth = 1; ctx.stroke(); }
  }
  ctx.globalAlpha = 1;
}

function drawRectangle() {
  const x = Math.min(drag.x0, drag.x1), y = Math.min(drag.y0, drag.y1);
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = "#ffffff";
  ctx.lineWidth = 1.5;
  ctx.strokeRect(x, y, Math.abs(drag.x1 - drag.x0), Math.abs(drag.y1 - drag.y0));
  ctx.setLineDash([]);
}

// ----- frames and playback --------------------------------------------------------------------------------
function setFrame(t) {
  const n = state.info.num_frames;
  state.frame = ((t % n) + n) % n;
  draw();
  clearTimeout(warmTimer);
  if (!state.playing) warmTimer = setTimeout(warmFrame, WARM_AFTER_MS);
}

// Ask the server to read the flow files a click on this frame needs, while the user aims.
function warmFrame() {
  postJSON("/api/warm", { frame: state.frame }).catch(() => { /* only a speed-up */ });
}

function setPlaying(playing) {
  state.playing = playing;
  $("play-icon").setAttribute("d", playing ? "M3.5 2.5h3v11h-3zM9.5 2.5h3v11h-3z" : "M4 2.5v11L13.5 8z");
  $("play").setAttribute("aria-label", playing ? "pause" : "play");
  clearInterval(playTimer);
  if (!playing) setFrame(state.frame);
  if (playing) playTimer = setInterval(() => setFrame(state.frame + 1), 1000 / Math.min(state.info.fps, 30));
}

// ----- asking the server ------------------------------------------------------------------------------------
async function postJSON(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: JSON.stringify(body) });
  if (!response.ok) {
    const text = await response.text();
    let message = text;
    try { message = JSON.parse(text).error; } catch (err) { /* not JSON: show as it is */ }
    throw new Error(message || `${response.status} ${response.statusText}`);
  }
  return response;
}

async function trackPoint(x, y) {
  const t = state.frame;
  const started = performance.now();
  setStatus(`tracking ${x},${y}@${t}…`);
  const answer = await (await postJSON("/api/track", { queries: [[t, x, y]] })).json();
  const color = POINT_COLORS[state.nextColor++ % POINT_COLORS.length];
  addItem({ kind: "point", label: `${x}, ${y} @ ${t}`, swatch: color, colors: [color], ...answer });
  state.lastClickMs = Math.round(performance.now() - started);
  setStatus(`tracked ${x},${y}@${t} in ${state.lastClickMs} ms`);
}

async function trackRegion(box) {
  const t = state.frame;
  const side = Number($("region-side").value);
  const progress = $("progress");
  progress.hidden = false;
  progress.value = 0;
  setStatus("tracking the region…");
  const response = await postJSON("/api/region", { frame: t, box, side });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", result = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      if (line.error) throw new Error(line.error);
      if (line.tracks) result = line;
      else { progress.value = line.done / line.total; setStatus(`tracking the region: ${line.done} / ${line.total} points`); }
    }
    if (done) break;
  }
  progress.hidden = true;
  if (!result) throw new Error("the server stopped before sending the region's tracks");
  const n = result.queries.length;
  const colors = result.queries.map((q) => positionColor(q[1], q[2]));
  const [x0, y0, x1, y1] = box.map(Math.round);
  addItem({ kind: "region", label: `region ${Math.abs(x1 - x0) + 1}×${Math.abs(y1 - y0) + 1} @ ${t} · ${n} points`,
            swatch: "linear-gradient(135deg, #ff4d6d, #ffd43b, #69db7c, #4dabf7, #b197fc)", colors, ...result },
          subsampleGrid(result.queries));
  const drawn = state.items.at(-1).drawn.length;
  setStatus(`tracked ${n} points` + (drawn < n ? ` (drawing ${drawn}; exports hold all)` : ""));
}

function addItem(item, drawn) {
  item.id = state.nextId++;
  item.drawn = drawn || item.queries.map((_, i) => i);
  state.items.push(item);
  renderList();
  draw();
}

function removeItem(id) {
  state.items = state.items.filter((item) => item.id !== id);
  renderList();
  draw();
}

// Every k-th grid column and row: at most MAX_DRAWN_REGION_POINTS, evenly spread, not crowded on screen.
function subsampleGrid(queries) {
  const xs = [...new Set(queries.map((q) => q[1]))].sort((a, b) => a - b);
  const ys = [...new Set(queries.map((q) => q[2]))].sort((a, b) => a - b);
  const gridStep = xs.length > 1 ? xs[1] - xs[0] : ys.length > 1 ? ys[1] - ys[0] : 1;
  const k = Math.max(Math.ceil(Math.sqrt(queries.length / MAX_DRAWN_REGION_POINTS)),
                     Math.ceil(MIN_DRAWN_SPACING_PX / (gridStep * scale)), 1);
  const keepX = new Set(xs.filter((_, i) => i % k === 0)), keepY = new Set(ys.filter((_, i) => i % k === 0));
  return queries.map((q, i) => (keepX.has(q[1]) && keepY.has(q[2]) ? i : -1)).filter((i) => i >= 0);
}

// Rainbow by start position (mostly down the rows), as omnimotion.viz.position_colors.
function positionColor(x, y) {
  const [h, w] = state.info.image_hw;
  const value = 0.85 * y / Math.max(h - 1, 1) + 0.15 * x / Math.max(w - 1, 1);
  return hslToHex(300 * value, 0.9, 0.6);
}

function hslToHex(hue, saturation, lightness) {
  const f = (n) => {
    const k = (n + hue / 30) % 12;
    const c = lightness - saturation * Math.min(lightness, 1 - lightness) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * c).toString(16).padStart(2, "0");
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

// ----- the track list and exports ---------------------------------------------------------------------------
function renderList() {
  const list = $("tracks");
  list.replaceChildren(...state.items.map((item) => {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = item.swatch;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = item.label;
    const remove = document.createElement("button");
    remove.className = "remove";
    remove.title = "remove";
    remove.setAttribute("aria-label", `remove ${item.label}`);
    remove.textContent = "×";
    remove.addEventListener("click", () => removeItem(item.id));
    li.append(swatch, label, remove);
    return li;
  }));
  const points = state.items.reduce((sum, item) => sum + item.queries.length, 0);
  $("track-count").textContent = String(points);
  $("no-tracks").hidden = state.items.length > 0;
  for (const button of document.querySelectorAll("#clear, .export, #export-video")) button.disabled = !points;
}

async function download(path, body) {
  const response = await postJSON(path, body);
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [null, "tracks"])[1];
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  setStatus(`saved ${name}`);
}

function allQueries() {
  return state.items.flatMap((item) => item.queries);
}

function shownTracks() {
  const queries = [], colors = [];
  for (const item of state.items) for (const i of item.drawn) { queries.push(item.queries[i]); colors.push(item.colors[i]); }
  return { queries, colors };
}

// ----- events ---------------------------------------------------------------------------------------------------
function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function run(task) {  // one request at a time; failures are shown, never thrown away
  if (state.busy) { setStatus("still working on the last request…"); return; }
  state.busy = true;
  document.body.dataset.busy = "1";
  try { await task(); } catch (err) { setStatus(err.message, true); $("progress").hidden = true; }
  finally { state.busy = false; document.body.dataset.busy = "0"; }
}

function imagePoint(cx, cy) {  // canvas pixels -> the pixel under them (its centre, integers)
  const [h, w] = state.info.image_hw;
  return [Math.min(w - 1, Math.max(0, Math.floor(cx / scale))), Math.min(h - 1, Math.max(0, Math.floor(cy / scale)))];
}

function canvasPoint(event) {  // the pointer in canvas pixels, also when CSS shrinks the canvas to fit
  const rect = canvas.getBoundingClientRect();
  const [, w] = state.info.image_hw;
  const ratio = w * scale / rect.width;
  return [(event.clientX - rect.left) * ratio, (event.clientY - rect.top) * ratio];
}

canvas.addEventListener("mousedown", (event) => {
  const [x, y] = canvasPoint(event);
  drag = { x0: x, y0: y, x1: x, y1: y, moved: false };
});
canvas.addEventListener("mousemove", (event) => {
  if (!drag) return;
  [drag.x1, drag.y1] = canvasPoint(event);
  drag.moved ||= Math.hypot(drag.x1 - drag.x0, drag.y1 - drag.y0) > DRAG_THRESHOLD_PX;
  if (drag.moved) draw();
});
window.addEventListener("mouseup", () => {
  if (!drag) return;
  const done = drag;
  drag = null;
  if (!done.moved) {
    const [x, y] = imagePoint(done.x0, done.y0);
    run(() => trackPoint(x, y));
    return;
  }
  draw();
  const [x0, y0] = imagePoint(done.x0, done.y0), [x1, y1] = imagePoint(done.x1, done.y1);
  run(() => trackRegion([x0, y0, x1, y1]));
});

$("play").addEventListener("click", () => setPlaying(!state.playing));
$("step-back").addEventListener("click", () => { setPlaying(false); setFrame(state.frame - 1); });
$("step-forward").addEventListener("click", () => { setPlaying(false); setFrame(state.frame + 1); });
$("frame").addEventListener("input", (event) => { setPlaying(false); setFrame(Number(event.target.value)); });
$("trail").addEventListener("input", (event) => {
  state.trail = Number(event.target.value);
  $("trail-label").textContent = event.target.value;
  draw();
});
$("show-occluded").addEventListener("change", (event) => { state.showOccluded = event.target.checked; draw(); });
$("depth").addEventListener("change", (event) => run(async () => {
  if (event.target.checked && !images.depth.length) {
    setStatus("rendering the model's depth…");
    images.depth = await loadImages("depth");
    setStatus("");
  }
  state.depth = event.target.checked;
  draw();
}));
$("clear").addEventListener("click", () => { state.items = []; renderList(); draw(); setStatus(""); });
for (const button of document.querySelectorAll(".export")) {
  button.addEventListener("click", () => run(() => download("/api/export",
    { format: button.dataset.format, queries: allQueries() })));
}
$("export-video").addEventListener("click", () => run(() => {
  setStatus("rendering the video…");
  return download("/api/video", { ...shownTracks(), trail_length: state.trail, show_occluded: state.showOccluded,
                                   background: state.depth ? "depth" : "frames" });
}));
document.addEventListener("keydown", (event) => {
  const target = event.target;  // buttons, lists and boxes keep their own keys; sliders step frames
  if (["BUTTON", "SELECT"].includes(target.tagName) || (target.tagName === "INPUT" && target.type !== "range")) return;
  if (event.key === " ") { event.preventDefault(); setPlaying(!state.playing); }
  else if (event.key === "ArrowLeft") { event.preventDefault(); setPlaying(false); setFrame(state.frame - 1); }
  else if (event.key === "ArrowRight") { event.preventDefault(); setPlaying(false); setFrame(state.frame + 1); }
});
window.addEventListener("resize", () => { if (state.info) { fitCanvas(); draw(); } });

window.viewer = { state, setFrame, trackPoint, trackRegion };
start().catch((err) => setStatus(`cannot load the run: ${err.message}`, true));
