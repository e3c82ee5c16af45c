// The commander's replay ("#/replay", commanders and admins): a camera and a UTC window (or an alert: its
// opening − 10 s to its closing + 10 s), the recorded frame at the chosen time (GET /api/replay/frame) with the
// stored boxes drawn over it on a canvas (GET /api/replay/boxes, toggleable), a timeline with alert markers,
// play at 0.25x–8x paced by the recorded frame times (one frame request in flight), frame steps, alert jumps,
// and the subjects' stored positions at that time as map markers (GET /api/replay/positions; drones marked apart).
// Or a drone sortie (its window and camera); with no camera, the map alone replays. The map layers that move with
// the time (paths, footprint, corridors as they were) and the patrol chooser are in replaymap.ts.
// The frame times and boxes come in parts (a 6 h window of a 30 fps camera is 648,000 frames; the server answers
// at most 20,000 at a time): one part is held, and the next asked for as play or steps run past it, or the part
// around a time the timeline jumps to (one request at a time).
import maplibregl from "maplibre-gl";
import { type Alert, api, ApiError, type ReplayBoxes, type ReplayFrame, type ReplayPosition, type Sortie } from "./api";
import { utc, utcValue } from "./backtest";
import { $, errorText, escapeHtml, input } from "./dom";
import { mountExport } from "./exporting";
import {
  areaParam, listCameras, mapAt, mapClose, mapHasWorldTracks, mapSensorTracks, mapWindow, setupPatrols,
} from "./replaymap";
import { onReplayRoute } from "./router";
import { state } from "./state";

/** The colour of client-drawn boxes (pure cyan: unlike the rendered scenes and the burned-in magenta). */
export const BOX_COLOUR = "#00ffff";
const PAD_MS = 10_000; // an alert's window: opened − 10 s to closed + 10 s
const STALE_MS = 5_000; // a subject's marker is dropped this long after its last stored position
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const BACK_MS = 30_000; // the part asked for around a time begins this much before it (room to step back)

interface Frame { time: string; ms: number; boxes: ReplayFrame["boxes"] }
/** The part of the window's frames held: every frame with time in [from, until) is in p.frames; `next`: where the
 * rest begins (ask on from it), or null when the part runs to the window's end (until is then Infinity). */
interface Part { from: number; until: number; next: string | null }

const p = {
  camera: "", from: 0, to: 0,
  /** Whether the camera recorded in the window (else the map replays alone). */
  video: false,
  frames: [] as Frame[], part: { from: 0, until: 0, next: null } as Part,
  partBusy: false, partLimit: 0, // one part request at a time; frames per part (0: the server's cap)
  then: null as (() => void) | null, // what waits for the part on its way (the latest wish)
  alerts: [] as Alert[], positions: [] as ReplayPosition[],
  /** The time asked for (ms) and the frame shown (its index in `frames`, or -1). */
  t: 0, shown: -1,
  playing: false, speed: 1, showBoxes: true,
  inFlight: false, pending: null as string | null, // one frame request at a time; the latest wish waits
  load: 0, // the load whose answers are awaited (a newer load or leaving the page drops late ones)
  timer: 0, lastShownAt: 0, objectUrl: "",
  markers: new Map<string, maplibregl.Marker>(),
};
/** Alerts ever listed (so a row can be chosen though the feed never saw it). */
const listed = new Map<string, Alert>();

/** The camera of an alert raised from video (subject "<camera>/<track>", with a camera snapshot), or null.
 * (Telemetry subjects are "<source>/<sysid>" too: the snapshot tells a camera's alert apart.) */
export const cameraOf = (a: Alert): string | null =>
  (a.snapshot_url && a.subject_id.includes("/") ? a.subject_id.split("/", 1)[0]! : null);

const iso = (ms: number): string => new Date(ms).toISOString();
const inputValue = (ms: number): string => iso(ms).slice(0, 19);

function status(line: string, error = false): void {
  const el = $("rp-status");
  el.textContent = line;
  el.classList.toggle("error", error);
}

function errorLine(err: unknown): string {
  if (!(err instanceof ApiError)) return errorText(err);
  if (err.status === 403) return "Replay is for commanders and admins (403).";
  return `${err.message} (HTTP ${err.status})`;
}

const toFrame = (f: ReplayFrame): Frame => ({ ...f, ms: Date.parse(f.time) });

/** Whether every frame at `ms` is held in p.frames. */
const holds = (ms: number): boolean => p.part.from <= ms && ms < p.part.until;

/** The index of the last frame at or before `ms` (-1 when none). */
function frameAt(ms: number): number {
  let lo = 0, hi = p.frames.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (p.frames[mid]!.ms <= ms) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/** Hold the part `got` (asked from `from` ms; `next` when truncated), and find the frame on show in it again. */
function setPart(got: ReplayBoxes, from: number, keep: Frame | null): void {
  const frames = got.frames.map(toFrame);
  if (keep && (!frames.length || keep.ms < frames[0]!.ms)) frames.unshift(keep);
  const next = got.truncated ? got.next : null;
  p.frames = frames;
  p.part = { from: keep ? Math.min(keep.ms, from) : from, until: next ? Date.parse(next) : Infinity, next };
  const time = $<HTMLImageElement>("rp-img").dataset.frameTime;
  const ms = time ? Date.parse(time) : NaN;
  const i = frameAt(ms);
  p.shown = i >= 0 && p.frames[i]!.ms === ms ? i : -1;
  drawBoxes();
}

/** Ask for the part of the frames from `from` (ISO) to the window's end; `keep`: the last frame held, kept before
 * them (so play's pace and a step back run over the join). `then` runs once it is in; while a part is on its
 * way, only the latest wish waits (each looks again at what is held when it runs). */
function loadPart(from: string, keep: Frame | null, then: () => void): void {
  p.then = then;
  if (p.partBusy) return;
  p.partBusy = true;
  const load = p.load;
  api.replayBoxes(p.camera, from, iso(p.to), p.partLimit).then((got) => {
    if (load === p.load) setPart(got, Date.parse(from), keep);
  }).catch((err: unknown) => {
    if (load !== p.load) return;
    status(errorLine(err), true);
    p.then = null;
    pause();
  }).finally(() => {
    if (load !== p.load) return;
    p.partBusy = false;
    const waiting = p.then;
    p.then = null;
    waiting?.();
  });
}

/** Hold the frames around `ms` (from BACK_MS before it; on the second try from `ms` itself), then `then`. */
function around(ms: number, then: () => void, tries = 2): void {
  if (holds(ms)) return then();
  if (!tries) { pause(); return status("The recorded frames of this time did not come.", true); }
  loadPart(iso(Math.max(p.from, ms - (tries > 1 ? BACK_MS : 0))), null, () => around(p.t, then, tries - 1));
}

// ---- the frame view ----

/** Draw the boxes of the shown frame over the image (scaled to its drawn size), or nothing when off. */
function drawBoxes(): void {
  const img = $<HTMLImageElement>("rp-img");
  const canvas = $<HTMLCanvasElement>("rp-canvas");
  const w = img.clientWidth, h = img.clientHeight;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d")!;
  ctx.clearRect(0, 0, w, h);
  const frame = p.frames[p.shown];
  if (!p.showBoxes || !frame || !img.naturalWidth || img.dataset.frameTime !== frame.time) return;
  const sx = w / img.naturalWidth, sy = h / img.naturalHeight;
  ctx.strokeStyle = BOX_COLOUR;
  ctx.fillStyle = "#ffffff"; // labels in white: only the boxes carry BOX_COLOUR
  ctx.lineWidth = 2;
  ctx.font = "11px sans-serif";
  for (const b of frame.boxes) {
    ctx.strokeRect(b.x1 * sx, b.y1 * sy, (b.x2 - b.x1) * sx, (b.y2 - b.y1) * sy);
    ctx.fillText(`${b.cls} #${b.track}`, b.x1 * sx + 2, Math.max(10, b.y1 * sy - 3));
  }
}

/** Ask for the frame shown at `t` (ISO); while one is on its way, the newest wish waits for it. */
function request(t: string): void {
  if (p.inFlight) { p.pending = t; return; }
  p.inFlight = true;
  const load = p.load;
  const url = `/api/replay/frame?${new URLSearchParams({ camera: p.camera, t })}`;
  void fetch(url, { credentials: "same-origin" }).then(async (res) => {
    if (load !== p.load) return;
    if (!res.ok) {
      const body = await res.json().catch(() => ({ detail: `HTTP ${res.status}` })) as { detail?: string };
      status(`${body.detail ?? "no frame"} (HTTP ${res.status})`, res.status !== 404);
      if (p.playing) schedule();
      return;
    }
    const frameTime = res.headers.get("X-Frame-Time") ?? "";
    const blob = await res.blob();
    if (load !== p.load) return;
    await show(blob, frameTime);
  }).catch((err: unknown) => {
    if (load === p.load) { status(errorText(err), true); pause(); }
  }).finally(() => {
    if (load !== p.load) return;
    p.inFlight = false;
    const next = p.pending;
    p.pending = null;
    if (next !== null) request(next);
  });
}

async function show(blob: Blob, frameTime: string): Promise<void> {
  const img = $<HTMLImageElement>("rp-img");
  const url = URL.createObjectURL(blob);
  img.src = url;
  await img.decode().catch(() => undefined);
  if (p.objectUrl) URL.revokeObjectURL(p.objectUrl);
  p.objectUrl = url;
  const ms = Date.parse(frameTime);
  const i = frameAt(ms);
  p.shown = i >= 0 && p.frames[i]!.ms === ms ? i : -1;
  img.dataset.frameTime = p.shown >= 0 ? p.frames[p.shown]!.time : frameTime;
  $("rp-view").dataset.frameTime = img.dataset.frameTime;
  $("rp-frame-time").textContent = Number.isFinite(ms) ? `frame ${utc(frameTime).replace(" UTC", "")}.${
    String(ms % 1000).padStart(3, "0")} UTC` : "";
  if (Number.isFinite(ms) && (p.playing || ms > p.t)) p.t = Math.max(p.t, ms);
  status("");
  drawBoxes();
  updateClock();
  p.lastShownAt = performance.now();
  if (p.playing) schedule();
}

// ---- time, timeline and play ----

function updateClock(): void {
  const slider = input("rp-slider");
  slider.value = String(Math.round(p.t - p.from));
  $("rp-time").textContent = `${inputValue(p.t).replace("T", " ")}.${String(p.t % 1000).padStart(3, "0")} UTC`;
  moveMarkers();
  mapAt(p.t);
}

/** Show the frame at `ms` (clamped to the window). */
export function seek(ms: number): void {
  p.t = Math.min(p.to, Math.max(p.from, Math.round(ms)));
  updateClock();
  if (!p.video) return; // nothing recorded: the map alone
  if (!holds(p.t)) { // the server finds the frame; its boxes come with the part around it
    request(iso(p.t));
    return around(p.t, () => undefined);
  }
  const i = frameAt(p.t);
  request(i >= 0 ? p.frames[i]!.time : iso(p.t));
}

/** One recorded frame back (-1) or forward (+1) from the one shown (`again`: may ask for a part first). */
function step(dir: -1 | 1, again = true): void {
  pause();
  if (!p.video) return;
  if (!holds(p.t)) return again ? around(p.t, () => step(dir, false)) : undefined;
  const at = p.shown >= 0 ? p.shown : frameAt(p.t);
  const next = p.frames[at + dir];
  if (next) {
    p.t = next.ms;
    updateClock();
    request(next.time);
  } else if (dir > 0 && p.part.next && again) {
    loadPart(p.part.next, p.frames[at] ?? null, () => step(1, false)); // the part after this one
  } else if (dir < 0 && p.part.from > p.from) { // before this part: the server's frame just before the one on show
    const onShow = Date.parse($<HTMLImageElement>("rp-img").dataset.frameTime ?? "");
    seek((Number.isFinite(onShow) ? Math.min(onShow, p.t) : p.t) - 1);
  }
}

/** While playing: the next recorded frame, after its gap to the shown one at the chosen speed. */
function schedule(): void {
  window.clearTimeout(p.timer);
  if (!p.video) { // the map alone: 5 steps a second of play
    if (p.t >= p.to) return pause();
    p.timer = window.setTimeout(() => { if (p.playing) { seek(p.t + 200 * p.speed); schedule(); } }, 200);
    return;
  }
  const resume = (): void => { if (p.playing) schedule(); };
  if (!holds(p.t)) return around(p.t, resume);
  const at = p.shown >= 0 ? p.shown : frameAt(p.t);
  const next = p.frames[at + 1];
  if (!next) { // past the part held: the next one (keeping this frame, for the pace), or the window's end
    if (p.part.next) return loadPart(p.part.next, p.frames[at] ?? null, resume);
    pause();
    return;
  }
  const gap = at >= 0 ? (next.ms - p.frames[at]!.ms) / p.speed : 0;
  const wait = Math.max(0, gap - (performance.now() - p.lastShownAt));
  p.timer = window.setTimeout(() => {
    if (!p.playing) return;
    p.t = next.ms;
    updateClock();
    request(next.time);
  }, wait);
}

function play(): void {
  if (!p.to) return status("Load a window first.", true);
  const atEnd = p.video ? !p.part.next && holds(p.t) && frameAt(p.t) >= p.frames.length - 1 : p.t >= p.to;
  if (atEnd) seek(p.from); // at the end: from the start
  p.playing = true;
  $("rp-play").textContent = "Pause";
  $("rp-play").setAttribute("aria-pressed", "true");
  if (!p.inFlight) schedule();
}

function pause(): void {
  p.playing = false;
  window.clearTimeout(p.timer);
  $("rp-play").textContent = "Play";
  $("rp-play").setAttribute("aria-pressed", "false");
}

/** Seek to the opening of the alert after (+1) or before (-1) the time shown. */
function jumpAlert(dir: -1 | 1): void {
  pause();
  const opened = p.alerts.map((a) => Date.parse(a.opened_at)).sort((a, b) => a - b);
  const target = dir > 0 ? opened.find((t) => t > p.t + 1) : [...opened].reverse().find((t) => t < p.t - 250);
  if (target !== undefined) seek(target);
}

function drawMarks(): void {
  const span = p.to - p.from;
  $("rp-marks").innerHTML = p.alerts.map((a) => {
    const left = (100 * (Date.parse(a.opened_at) - p.from)) / span;
    return left < 0 || left > 100 ? "" : `<button type="button" class="rp-mark" data-left="${left.toFixed(2)}"
      data-alert-id="${escapeHtml(a.id)}" title="${escapeHtml(`${a.kind} ${a.subject_id} ${utc(a.opened_at)}`)}"
      aria-label="alert ${escapeHtml(a.id)}"></button>`;
  }).join("");
  // Placed through the DOM, not a style attribute: the Content-Security-Policy refuses inline styles.
  for (const mark of $("rp-marks").querySelectorAll<HTMLElement>(".rp-mark")) mark.style.left = `${mark.dataset.left}%`;
}

// ---- the map ----

/** Each subject's marker at its last stored position at or before the time shown (within STALE_MS). */
function moveMarkers(): void {
  const map = state.view?.map;
  if (!map) return;
  const latest = new Map<string, ReplayPosition>();
  for (const f of p.positions) {
    const ms = Date.parse(f.time);
    if (ms > p.t) break; // oldest first
    if (p.t - ms <= STALE_MS) latest.set(f.subject_id, f);
    else latest.delete(f.subject_id);
  }
  for (const [id, m] of p.markers) if (!latest.has(id)) { m.remove(); p.markers.delete(id); }
  for (const [id, f] of latest) {
    let m = p.markers.get(id);
    if (!m) {
      const el = document.createElement("div");
      el.className = f.role === "patrol" ? "rp-subject rp-drone" : "rp-subject";
      if (f.role === "patrol") el.style.background = "#ff7f00"; // REPLAY_COLOURS.drone, like its trail
      el.dataset.subjectId = id;
      el.title = `${f.class ?? f.role} ${id}`;
      m = new maplibregl.Marker({ element: el }).setLngLat([f.lon, f.lat]).addTo(map);
      p.markers.set(id, m);
    }
    m.setLngLat([f.lon, f.lat]);
  }
}

function clearMarkers(): void {
  for (const m of p.markers.values()) m.remove();
  p.markers.clear();
}

// ---- loading a window ----

function alertRow(a: Alert): string {
  const end = a.closed_at ? ` – ${utc(a.closed_at)}` : " (open)";
  return `<li><button type="button" class="rp-alert" data-alert-id="${escapeHtml(a.id)}">
    ${escapeHtml(a.kind)} · ${escapeHtml(a.subject_id)}<small>${utc(a.opened_at)}${end}</small></button></li>`;
}

function listAlerts(alerts: Alert[]): void {
  const cams = alerts.filter((a) => cameraOf(a) !== null);
  for (const a of cams) listed.set(a.id, a);
  $("rp-alerts").innerHTML = cams.length ? cams.map(alertRow).join("")
    : `<li class="muted">No alerts from cameras in this window.</li>`;
}

/** Load the window in the form: the frame times and boxes, the alerts, the positions; then show `at` (ms). */
async function load(at?: number, relist = true): Promise<void> {
  pause();
  const camera = input("rp-camera").value.trim();
  const from = utcValue(input("rp-from").value), to = utcValue(input("rp-to").value);
  if (!from || !to) return status("Set both From and To (UTC).", true);
  const mine = ++p.load;
  Object.assign(p, { inFlight: false, pending: null, partBusy: false, then: null });
  status("Loading…");
  try {
    // A camera with nothing recorded (e.g. a sortie's unrecorded camera) leaves the map to replay alone.
    const none: ReplayBoxes = { camera, truncated: false, next: null, frames: [] };
    const [boxes, alerts, positions] = await Promise.all([
      camera ? api.replayBoxes(camera, from, to, p.partLimit).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return none;
        throw e;
      }) : none,
      api.alertsBetween(from, to), api.replayPositions(from, to, areaParam())]);
    if (mine !== p.load) return;
    Object.assign(p, { camera, from: Date.parse(from), to: Date.parse(to), video: boxes.frames.length > 0,
      positions: positions.positions });
    // The timeline marks the camera's alerts, or with no video (the map alone) every alert in the window.
    p.alerts = p.video ? alerts.items.filter((a) => cameraOf(a) === camera) : alerts.items;
    const img = $<HTMLImageElement>("rp-img"); // no frame of another window left on show
    delete img.dataset.frameTime;
    $("rp-frame-time").textContent = "";
    setPart(boxes, p.from, null);
    if (!p.video) img.removeAttribute("src");
    $("rp-view").hidden = !p.video;
    if (relist) listAlerts(alerts.items);
    mapWindow(p.from, p.to, camera, p.positions);
    $("rp-sensors-toggle").hidden = !mapHasWorldTracks();
    const first = p.positions.find((f) => Date.parse(f.time) >= (at ?? p.from)) ?? p.positions[0];
    if (first) state.view?.map.jumpTo({ center: [first.lon, first.lat], zoom: Math.max(state.view.map.getZoom(), 16) });
    const slider = input("rp-slider");
    slider.max = String(p.to - p.from);
    $("rp-player").hidden = false;
    drawMarks();
    status(p.video ? "" : camera ? `Nothing of ${camera} recorded in this window: the map alone.`
      : "No camera chosen: the map alone.", camera !== "" && !p.video);
    $("rp-count").textContent = `${p.frames.length}${p.part.next ? "+ (more as it plays)" : ""} frames · ${
      p.alerts.length} alert(s)${positions.truncated ? " · positions truncated" : ""}`;
    seek(at ?? p.from);
  } catch (err) {
    if (mine === p.load) status(errorLine(err), true);
  }
}

/** Replay an alert: its camera, the window around it, at its opening. */
export function chooseAlert(a: Alert): void {
  const camera = cameraOf(a);
  if (!camera) return status(`Alert ${a.id} was not raised from a camera.`, true);
  const opened = Date.parse(a.opened_at);
  const closed = Date.parse(a.closed_at ?? a.last_seen);
  input("rp-camera").value = camera;
  input("rp-from").value = inputValue(opened - PAD_MS);
  input("rp-to").value = inputValue(Math.ceil((closed + PAD_MS) / 1000) * 1000);
  document.querySelectorAll("#rp-alerts .rp-alert").forEach((b) =>
    b.classList.toggle("picked", (b as HTMLElement).dataset.alertId === a.id));
  void load(opened, false);
}

/** Replay a sortie: its window (whole seconds around it) and the camera that followed it, from its start. */
function chooseSortie(s: Sortie): void {
  const start = Date.parse(s.start), end = Date.parse(s.end);
  input("rp-camera").value = s.camera ?? "";
  input("rp-from").value = inputValue(Math.floor(start / 1000) * 1000);
  input("rp-to").value = inputValue(Math.floor(end / 1000) * 1000 + 1000);
  void load(start);
}

/** On opening: the camera alerts the feed knows listed, and the newest chosen. */
function openDefault(): void {
  const cams = [...state.alerts.values()].filter((a) => cameraOf(a) !== null)
    .sort((a, b) => Date.parse(b.opened_at) - Date.parse(a.opened_at));
  listAlerts(cams);
  if (cams[0]) chooseAlert(cams[0]);
  else status("No camera alerts yet: choose a camera and a window.");
}

function close(): void {
  pause();
  p.load += 1;
  Object.assign(p, { inFlight: false, pending: null, partBusy: false, then: null });
  clearMarkers();
  mapClose();
}

export function setupReplay(): void {
  let shown = false;
  onReplayRoute((now) => {
    if (now && !shown) {
      listCameras().catch((err: unknown) => status(errorLine(err), true));
      if (input("rp-from").value && input("rp-to").value) void load(p.t || undefined);
      else openDefault();
    }
    if (!now && shown) close();
    shown = now;
  });
  $("rp-form").addEventListener("submit", (e) => { e.preventDefault(); void load(); });
  setupPatrols(() => {
    const from = utcValue(input("rp-from").value), to = utcValue(input("rp-to").value);
    return from && to ? [from, to] : null;
  }, chooseSortie);
  // For the browser tests: parts of `n` frames (the server's own cap is too large for a short recording).
  (globalThis as unknown as { routewatchReplay: Record<string, unknown> }).routewatchReplay.partFrames =
    (n: number) => { p.partLimit = Math.max(0, Math.floor(n)); };
  $("rp-alerts").addEventListener("click", (e) => {
    const id = (e.target as HTMLElement).closest<HTMLElement>(".rp-alert")?.dataset.alertId;
    const a = id ? listed.get(id) : undefined;
    if (a) chooseAlert(a);
  });
  $("rp-marks").addEventListener("click", (e) => {
    const id = (e.target as HTMLElement).closest<HTMLElement>(".rp-mark")?.dataset.alertId;
    const a = p.alerts.find((x) => x.id === id);
    if (a) { pause(); seek(Date.parse(a.opened_at)); }
  });
  input("rp-slider").addEventListener("input", () => { pause(); seek(p.from + Number(input("rp-slider").value)); });
  $("rp-play").addEventListener("click", () => (p.playing ? pause() : play()));
  $("rp-back").addEventListener("click", () => step(-1));
  $("rp-forward").addEventListener("click", () => step(1));
  $("rp-prev-alert").addEventListener("click", () => jumpAlert(-1));
  $("rp-next-alert").addEventListener("click", () => jumpAlert(1));
  const speed = input<HTMLSelectElement>("rp-speed");
  speed.innerHTML = SPEEDS.map((s) => `<option value="${s}"${s === 1 ? " selected" : ""}>${s}x</option>`).join("");
  speed.addEventListener("change", () => { p.speed = Number(speed.value) || 1; });
  input("rp-boxes").addEventListener("change", () => { p.showBoxes = input<HTMLInputElement>("rp-boxes").checked; drawBoxes(); });
  input("rp-sensors").addEventListener("change", () => mapSensorTracks(input<HTMLInputElement>("rp-sensors").checked));
  window.addEventListener("resize", drawBoxes);
  mountExport($("replay-panel"), () => ({ camera: p.camera, from: p.to ? iso(p.from) : "", to: p.to ? iso(p.to) : "",
    alertId: document.querySelector<HTMLElement>("#rp-alerts .rp-alert.picked")?.dataset.alertId ?? null }));
}
