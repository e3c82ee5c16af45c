// The replay page's map and patrol choice. As the player's time moves: each subject's path up to that time (a
// drone's last minute only, as a trail), the chosen camera's footprint in force then (GET /api/replay/footprints,
// asked again only past what was loaded) and the corridors as they were (GET /api/replay/corridors, asked again
// only when the time leaves the span their answer holds for); the live corridors and tracks are hidden meanwhile.
// The patrol chooser: the drone sorties in the window (GET /api/replay/sorties), and an optional area (the map's
// view) that the sorties and positions are limited to. One request of each kind in flight; answers per window.
import type { GeoJSONSource } from "maplibre-gl";
import { api, type CorridorsAt, type Feature, type ReplayPosition, type Sortie } from "./api";
import { utc } from "./backtest";
import { $, errorText, escapeHtml, input } from "./dom";
import { state } from "./state";
import { empty } from "./style";
import { isWorldOrIdentified, WORLD_SOURCE } from "./tracks";

const TRAIL_MS = 60_000; // a drone's trail: its last minute
const DRAW_MS = 100; // paths are redrawn at most this often (a window may hold 100,000 positions)
/** The live layers hidden while replaying: the corridors in force now, and the live tracks. */
const LIVE_LAYERS = ["corridor-fill", "corridor-outline", "corridor-band", "corridor-line", "track-heading", "tracks"];

/** `sensor`: a sensor's own track, which a world track (source "world") may have fused: shown on demand. */
interface Path { role: string; sensor: boolean; times: number[]; coords: [number, number][] }
interface Shape { start: number; end: number; feature: Feature }
interface Held { since: number; until: number; fc: CorridorsAt }

const m = {
  load: 0, from: 0, to: 0, camera: "", t: 0, open: false,
  paths: new Map<string, Path>(), drawn: "", drawnIds: [] as string[], drawTimer: 0, lastDraw: 0,
  /** The camera's footprints (by start), complete for times in [fpFrom, fpUntil). */
  footprints: [] as Shape[], fpStarts: [] as number[], fpFrom: 0, fpUntil: 0, fpBusy: false, fpShown: null as Shape | null,
  held: [] as Held[], corridorsShown: null as Held | null, corrBusy: false,
  area: "", sorties: [] as Sortie[],
  /** Whether the window holds world tracks, and whether the sensor tracks are shown beside them. */
  world: false, sensors: false,
};

const iso = (ms: number): string => new Date(ms).toISOString();

function source(name: string): GeoJSONSource | undefined {
  return state.view?.map.getSource(name) as GeoJSONSource | undefined;
}

function problem(line: string): void {
  $("rp-map-status").textContent = line;
}

function setLive(visible: boolean): void {
  const map = state.view?.map;
  for (const id of LIVE_LAYERS) if (map?.getLayer(id)) map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
}

/** The index of the last of the sorted `times` at or before `t` (-1: none). */
function lastAt(times: number[], t: number): number {
  let lo = 0, hi = times.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

// ---- paths and trails ----

function drawPaths(): void {
  window.clearTimeout(m.drawTimer);
  m.drawTimer = 0;
  m.lastDraw = performance.now();
  const features: Feature[] = [];
  const key: string[] = [];
  for (const [id, path] of m.paths) {
    if (path.sensor && m.world && !m.sensors) continue;
    const k = lastAt(path.times, m.t);
    const first = path.role === "patrol" ? lastAt(path.times, m.t - TRAIL_MS) + 1 : 0;
    if (k - first < 1) continue;
    key.push(`${id}:${first}:${k}`);
    features.push({ type: "Feature", properties: { subject_id: id, role: path.role },
      geometry: { type: "LineString", coordinates: path.coords.slice(first, k + 1) } });
  }
  const now = key.join("|");
  if (now === m.drawn) return; // nothing moved: no new data for the map
  m.drawn = now;
  m.drawnIds = features.map((f) => String(f.properties.subject_id));
  source("rp-tracks")?.setData({ type: "FeatureCollection", features } as never);
}

function drawPathsSoon(): void {
  const wait = DRAW_MS - (performance.now() - m.lastDraw);
  if (wait <= 0) drawPaths();
  else if (!m.drawTimer) m.drawTimer = window.setTimeout(drawPaths, wait);
}

// ---- the camera's footprint ----

function loadFootprints(fromMs: number): void {
  if (m.fpBusy) return;
  m.fpBusy = true;
  const load = m.load;
  void api.replayFootprints(iso(fromMs), iso(m.to), m.camera).then((fc) => {
    if (load !== m.load) return;
    m.footprints = fc.features.map((feature) => ({ feature, start: Date.parse(String(feature.properties.start)),
      end: Date.parse(String(feature.properties.end)) }));
    m.fpStarts = m.footprints.map((f) => f.start);
    m.fpFrom = fromMs;
    // Truncated: complete only before the last one's start (they come by start); taken as complete when that
    // is no later than asked (more overlap that instant than one answer holds), so the same ask is not repeated.
    const last = m.footprints[m.footprints.length - 1];
    m.fpUntil = fc.truncated && last && last.start > fromMs ? last.start : m.to + 1;
  }).catch((err: unknown) => {
    if (load !== m.load) return;
    Object.assign(m, { footprints: [], fpStarts: [], fpFrom: m.from, fpUntil: m.to + 1 }); // none: not asked again
    problem(`Footprints of ${m.camera}: ${errorText(err)}`);
  }).finally(() => {
    if (load !== m.load) return;
    m.fpBusy = false;
    showFootprint();
  });
}

function showFootprint(): void {
  if (!m.camera) return;
  // (From before the window's end: a window ending where it starts is refused.)
  if (m.t < m.fpFrom || m.t >= m.fpUntil) return loadFootprints(Math.max(m.from, Math.min(m.t, m.to - 1)));
  let found: Shape | null = null;
  for (let i = lastAt(m.fpStarts, m.t); i >= 0 && !found; i--) {
    const f = m.footprints[i]!;
    if (f.start <= m.t && m.t < f.end) found = f;
  }
  if (found === m.fpShown) return;
  m.fpShown = found;
  source("rp-footprint")?.setData((found ? { type: "FeatureCollection", features: [found.feature] } : empty()) as never);
}

// ---- the corridors in force ----

function showCorridors(): void {
  const held = m.held.find((h) => h.since <= m.t && m.t < h.until);
  if (!held) return loadCorridors();
  if (held === m.corridorsShown) return;
  m.corridorsShown = held;
  const raised: Feature[] = held.fc.raised.map((f) => ({ ...f, properties: { ...f.properties, raised: true } }));
  source("rp-corridors")?.setData({ type: "FeatureCollection", features: [...held.fc.features, ...raised] } as never);
  $("rp-corridor-note").textContent = raised.length
    ? `Also drawn: ${raised.map((f) => `${String(f.properties.id)} v${String(f.properties.version)}`).join(", ")}, ` +
      "as this window's alerts were raised against them (not in force at this time: saved later, or changed since)."
    : "";
}

function loadCorridors(): void {
  if (m.corrBusy) return; // the answer's arrival looks again at the time then
  m.corrBusy = true;
  const load = m.load, t = m.t;
  void api.replayCorridors(iso(t), iso(m.from), iso(m.to)).then((fc) => {
    if (load !== m.load) return;
    m.held.push({ fc, since: fc.since ? Date.parse(fc.since) : -Infinity, until: fc.until ? Date.parse(fc.until) : Infinity });
  }).catch((err: unknown) => {
    if (load !== m.load) return;
    // Held for this instant only, so a later time asks again (no retry storm at one time).
    m.held.push({ fc: { type: "FeatureCollection", features: [], t: iso(t), since: null, until: null, raised: [] },
      since: t, until: t + 1 });
    problem(`Corridors at ${utc(iso(t))}: ${errorText(err)}`);
  }).finally(() => {
    if (load !== m.load) return;
    m.corrBusy = false;
    showCorridors();
  });
}

// ---- what replay.ts calls ----

/** Show or hide the sensor tracks beside the world tracks (the "Sensor tracks" box). */
export function mapSensorTracks(on: boolean): void {
  m.sensors = on;
  m.drawn = "";
  drawPathsSoon();
}

/** Whether the window holds world tracks (then the sensor tracks are shown only on demand). */
export function mapHasWorldTracks(): boolean {
  return m.world;
}

/** A window was loaded: its positions (oldest first) become paths; the camera's footprints and corridors follow. */
export function mapWindow(from: number, to: number, camera: string, positions: ReplayPosition[]): void {
  mapClose();
  Object.assign(m, { from, to, camera, t: from, open: true, drawn: "", drawnIds: [], world: false, footprints: [], fpStarts: [],
    fpFrom: 0, fpUntil: 0,
    fpShown: null, held: [], corridorsShown: null });
  problem("");
  for (const f of positions) {
    let path = m.paths.get(f.subject_id);
    if (!path) {
      m.paths.set(f.subject_id, path = { role: f.role, sensor: !isWorldOrIdentified(f), times: [], coords: [] });
      if (f.source === WORLD_SOURCE) m.world = true;
    }
    path.times.push(Date.parse(f.time));
    path.coords.push([f.lon, f.lat]);
  }
  setLive(false);
}

/** The player's time moved to `t` (ms): redraw what changed, asking the server only past what it holds. */
export function mapAt(t: number): void {
  if (!m.open) return;
  m.t = t;
  drawPathsSoon();
  showFootprint();
  showCorridors();
}

/** Leaving the page (or loading another window): clear the replay layers and show the live ones again. */
export function mapClose(): void {
  m.load += 1;
  m.open = false;
  Object.assign(m, { fpBusy: false, corrBusy: false });
  window.clearTimeout(m.drawTimer);
  m.drawTimer = 0;
  m.paths.clear();
  for (const name of ["rp-tracks", "rp-footprint", "rp-corridors"]) source(name)?.setData(empty() as never);
  const note = document.getElementById("rp-corridor-note");
  if (note) note.textContent = "";
  setLive(true);
}

/** The chosen area as `minlon,minlat,maxlon,maxlat`, or "" for anywhere. */
export const areaParam = (): string => m.area;

// ---- the patrol chooser ----

function sortieRow(s: Sortie, i: number): string {
  const cam = s.camera ? `camera ${s.camera}` : "no camera followed it";
  return `<li><button type="button" class="rp-alert rp-sortie" data-index="${i}" data-drone="${escapeHtml(s.drone)}">
    ${escapeHtml(s.drone)} · ${escapeHtml(s.class)}<small>${utc(s.start)} – ${utc(s.end)} · ${s.fixes} fixes ·
    ${escapeHtml(cam)}</small></button></li>`;
}

function setArea(area: string): void {
  m.area = area;
  $("rp-area").textContent = area ? `area ${area}` : "any area";
  $("rp-clear-area").hidden = !area;
}

/** Build the chooser under the window form: `window()` is the form's [from, to] (ISO) or null, `choose` a sortie's. */
export function setupPatrols(period: () => [string, string] | null, choose: (s: Sortie) => void): void {
  const box = document.createElement("div");
  box.id = "rp-patrol";
  box.innerHTML = `<div class="rp-controls">
      <button type="button" id="rp-find-sorties">Sorties in window</button>
      <button type="button" id="rp-use-view" title="limit positions and sorties to the map's view">Area: map view</button>
      <button type="button" id="rp-clear-area" hidden>Any area</button>
      <span id="rp-area" class="muted"></span></div>
    <ul id="rp-sorties" class="bt-list"></ul><p id="rp-map-status" class="muted" role="status"></p>
    <p id="rp-corridor-note" class="muted"></p>`;
  $("rp-form").after(box);
  setArea("");
  $("rp-use-view").addEventListener("click", () => {
    const b = state.view?.map.getBounds();
    if (!b) return;
    const clamp = (v: number, lim: number) => Math.min(lim, Math.max(-lim, v)).toFixed(6);
    setArea([clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(","));
  });
  $("rp-clear-area").addEventListener("click", () => setArea(""));
  $("rp-find-sorties").addEventListener("click", () => {
    const w = period();
    const list = $("rp-sorties");
    if (!w) { list.innerHTML = `<li class="muted">Set both From and To (UTC).</li>`; return; }
    list.innerHTML = `<li class="muted">Looking…</li>`;
    api.replaySorties(w[0], w[1], m.area).then((got) => {
      m.sorties = got.sorties;
      list.innerHTML = got.sorties.length ? got.sorties.map(sortieRow).join("") + (got.truncated
        ? `<li class="muted">More than one answer holds (fixes or sorties): the latest are missing or cut short;
          ask for a shorter window.</li>` : "")
        : `<li class="muted">No drone sorties in this window${m.area ? " and area" : ""}.</li>`;
    }).catch((err: unknown) => { list.innerHTML = `<li class="error">${escapeHtml(errorText(err))}</li>`; });
  });
  $("rp-sorties").addEventListener("click", (e) => {
    const row = (e.target as HTMLElement).closest<HTMLElement>(".rp-sortie");
    const s = row ? m.sorties[Number(row.dataset.index)] : undefined;
    if (!s) return;
    document.querySelectorAll("#rp-sorties .rp-sortie").forEach((b) => b.classList.toggle("picked", b === row));
    choose(s);
  });
  // A handle for the browser tests: what the replay layers show now.
  (globalThis as unknown as { routewatchReplay?: unknown }).routewatchReplay = {
    drawn: () => ({
      t: iso(m.t), camera: m.camera, area: m.area, paths: [...m.drawnIds],
      footprint: m.fpShown ? m.fpShown.feature.properties : null,
      corridors: m.corridorsShown?.fc.features.map((f) => ({ id: f.id, version: f.properties.version })) ?? null,
      raised: m.corridorsShown?.fc.raised.map((f) => ({ id: f.properties.id, version: f.properties.version })) ?? null,
    }),
  };
}

/** Fill the camera list from the recorded cameras (each with its recorded extent). */
export async function listCameras(): Promise<void> {
  const { cameras } = await api.replayCameras();
  $("rp-cameras").innerHTML = cameras.map((c) => `<option value="${escapeHtml(c.camera)}" label="${escapeHtml(
    `${c.camera}: ${utc(c.first)} – ${utc(c.last)} (${c.segments} segments)`)}">`).join("");
  input("rp-camera").title = cameras.length ? "" : "Nothing recorded yet";
}
