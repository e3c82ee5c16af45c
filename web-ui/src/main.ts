import "./style.css";
import { api, ApiError, type Alert, type Feature, type FeatureCollection, type Me } from "./api";
import { showHistory, setupHistory } from "./history";
import { escapeHtml, MapView, SEVERITY_COLOURS } from "./map";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

let me: Me | null = null;
let view: MapView | null = null;
let live: EventSource | null = null;
let selected: string | null = null;
let corridors: FeatureCollection = { type: "FeatureCollection", features: [] };
const alerts = new Map<string, Alert>();
const canEdit = () => !!me?.permissions.includes("corridor_write");

// ---------- session ----------
async function start(): Promise<void> {
  try {
    me = await api.me();
  } catch {
    me = null;
  }
  if (!me) return showLogin();
  $("login-page").hidden = true;
  $("app-page").hidden = false;
  $("nav").hidden = $("logout").hidden = $("sound-toggle").hidden = $("live-status").hidden = false;
  $("nav-editor").hidden = !canEdit();
  $("who").textContent = `${me.name} (${me.role})`;
  if (!view) {
    view = new MapView($("map"), await api.basemap().catch(() => null));
    view.onAlertClick = (id) => void selectAlert(id);
    view.map.on("click", (e) => drawClick(e.lngLat.lng, e.lngLat.lat));
  }
  await Promise.all([loadCorridors(), loadAlerts()]);
  connectLive();
  route();
}

function showLogin(): void {
  live?.close();
  live = null;
  $("app-page").hidden = true;
  $("nav").hidden = $("logout").hidden = $("sound-toggle").hidden = $("live-status").hidden = true;
  $("who").textContent = "";
  $("login-page").hidden = false;
  $("username").focus();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    await api.login($<HTMLInputElement>("username").value, $<HTMLInputElement>("password").value);
    $<HTMLInputElement>("password").value = "";
    await start();
  } catch (err) {
    $("login-error").textContent = err instanceof ApiError && err.status === 401 ? "Wrong username or password." : String(err);
  }
});

$("logout").addEventListener("click", async () => {
  await api.logout().catch(() => null);
  me = null;
  location.hash = "#/";
  showLogin();
});

// ---------- routing (hash) ----------
function route(): void {
  if (!me) return;
  const editor = location.hash.startsWith("#/editor");
  const allowed = editor && canEdit();
  $("feed-panel").hidden = editor || selected !== null;
  $("detail-panel").hidden = editor || selected === null;
  $("editor-panel").hidden = !allowed;
  $("forbidden-panel").hidden = !(editor && !allowed);
  $("nav-map").classList.toggle("active", !editor);
  $("nav-editor").classList.toggle("active", editor);
  if (!allowed) { drawing = false; void view?.setDraft({ type: "FeatureCollection", features: [] }); void view?.showVersion(null); }
  else renderDraft();
  view?.map.resize();
}
window.addEventListener("hashchange", route);

// ---------- alerts ----------
async function loadAlerts(): Promise<void> {
  const page = await api.alerts(500);
  for (const a of page.items) alerts.set(a.id, a);
  for (const a of alerts.values()) view?.upsertAlert(a);
  renderFeed();
}

function newestFirst(): Alert[] {
  return [...alerts.values()].sort((a, b) => (a.opened_at < b.opened_at ? 1 : a.opened_at > b.opened_at ? -1 : 0));
}

const fmtTime = (t: string | null) => (t ? new Date(t).toLocaleString() : "—");

function renderFeed(flashId?: string): void {
  const list = newestFirst().slice(0, 200);
  const open = list.filter((a) => a.state === "open").length;
  $("alert-count").textContent = `${open} open / ${alerts.size}`;
  $("feed").innerHTML = list.map((a) => `
    <li class="alert-item state-${a.state}${a.id === flashId ? " flash" : ""}" data-alert-id="${escapeHtml(a.id)}" tabindex="0">
      <span class="sev" style="background:${SEVERITY_COLOURS[a.severity] ?? "#555"}">${escapeHtml(a.severity)}</span>
      <span class="what"><b>${escapeHtml(a.kind)}</b> ${escapeHtml(a.subject_class ?? "")} ${escapeHtml(a.subject_id)}
        <small>${escapeHtml(a.corridor_id)} v${a.corridor_version} · ${fmtTime(a.opened_at)}</small></span>
      <span class="state">${escapeHtml(a.state)}</span>
    </li>`).join("");
}

$("feed").addEventListener("click", (e) => {
  const li = (e.target as HTMLElement).closest<HTMLElement>("li[data-alert-id]");
  if (li) void selectAlert(li.dataset.alertId!);
});
$("feed").addEventListener("keydown", (e) => {
  const li = (e.target as HTMLElement).closest<HTMLElement>("li[data-alert-id]");
  if (li && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); void selectAlert(li.dataset.alertId!); }
});

async function selectAlert(id: string): Promise<void> {
  if (location.hash.startsWith("#/editor")) location.hash = "#/";
  selected = id;
  $("ack-result").textContent = "";
  route();
  $("detail").innerHTML = "<p class='muted'>Loading…</p>";
  try {
    const d = await api.alert(id);
    alerts.set(d.id, { ...d });
    renderDetail(d);
    void view?.showPath(d.track);
    view?.flyTo(d.lon, d.lat);
  } catch (err) {
    $("detail").innerHTML = `<p class="error">${escapeHtml(String(err))}</p>`;
  }
}

type Shown = Alert & { dismissed?: boolean; events?: { change: string; time: string; actor: string; comment: string }[] };

function renderDetail(a: Shown): void {
  const row = (k: string, v: string) => `<dt>${k}</dt><dd>${v}</dd>`;
  $("detail").innerHTML = `
    <h2><span class="sev" style="background:${SEVERITY_COLOURS[a.severity] ?? "#555"}">${escapeHtml(a.severity)}</span>
      ${escapeHtml(a.kind)} alert</h2>
    <dl id="detail-fields">
      ${row("State", `<span id="detail-state">${escapeHtml(a.state)}${a.dismissed ? " (dismissed)" : ""}</span>`)}
      ${row("Subject", `${escapeHtml(a.subject_id)} (${escapeHtml(a.subject_class ?? "unknown")})`)}
      ${row("Corridor", `${escapeHtml(a.corridor_id)} <span class="muted">version ${a.corridor_version}</span>`)}
      ${row("Opened", fmtTime(a.opened_at))}
      ${row("Last seen", fmtTime(a.last_seen))}
      ${row("Closed", fmtTime(a.closed_at))}
      ${row("Position", `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`)}
      ${a.speed_m_s != null ? row("Speed", `${a.speed_m_s.toFixed(1)} m/s`) : ""}
      ${a.heading_deg != null ? row("Heading", `${a.heading_deg.toFixed(0)}°`) : ""}
      ${row("Detail", escapeHtml(a.detail || "—"))}
      ${row("Source", escapeHtml(a.source))}
      ${row("Updates", String(a.updates))}
    </dl>
    ${a.events?.length ? `<h3>History</h3><ul class="events">${a.events.map((e) =>
      `<li>${fmtTime(e.time)} · ${escapeHtml(e.change)}${e.actor ? ` by ${escapeHtml(e.actor)}` : ""}${e.comment ? `: ${escapeHtml(e.comment)}` : ""}</li>`).join("")}</ul>` : ""}`;
  $<HTMLButtonElement>("ack-button").disabled = a.state !== "open";
  $<HTMLButtonElement>("dismiss-button").disabled = !!a.dismissed;
}

$("detail-close").addEventListener("click", () => {
  selected = null;
  void view?.showPath([]);
  route();
  renderFeed();
});

$("ack-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!selected) return;
  const button = $<HTMLButtonElement>("ack-button");
  button.disabled = true;
  try {
    const a = await api.ack(selected, $<HTMLTextAreaElement>("ack-comment").value);
    alerts.set(a.id, a);
    view?.upsertAlert(a);
    $("ack-result").textContent = "Acknowledged.";
    $<HTMLTextAreaElement>("ack-comment").value = "";
    await selectAlert(a.id);
    $("ack-result").textContent = "Acknowledged.";
  } catch (err) {
    $("ack-result").textContent = `Failed: ${err instanceof Error ? err.message : String(err)}`;
    button.disabled = false;
  }
});

$("dismiss-button").addEventListener("click", async () => {
  if (!selected) return;
  const button = $<HTMLButtonElement>("dismiss-button");
  button.disabled = true;
  try {
    const a = await api.dismiss(selected, $<HTMLTextAreaElement>("ack-comment").value);
    alerts.set(a.id, a);
    view?.upsertAlert(a);
    $<HTMLTextAreaElement>("ack-comment").value = "";
    await selectAlert(a.id);
    $("ack-result").textContent = "Dismissed.";
  } catch (err) {
    $("ack-result").textContent = `Failed: ${err instanceof Error ? err.message : String(err)}`;
    button.disabled = false;
  }
});

// ---------- live stream ----------
function connectLive(): void {
  live?.close();
  // EventSource resumes by itself with Last-Event-ID after a dropped connection.
  live = new EventSource("/api/live");
  live.onopen = () => $("live-status").classList.add("up");
  live.onerror = () => {
    $("live-status").classList.remove("up");
    void api.me().catch((err) => { if (err instanceof ApiError && err.status === 401) { me = null; showLogin(); } });
  };
  live.addEventListener("alert", (ev) => {
    const msg = JSON.parse((ev as MessageEvent<string>).data) as { change: string; alert: Alert };
    const a = msg.alert;
    document.body.dataset.liveAlerts = String(Number(document.body.dataset.liveAlerts ?? 0) + 1); // for tests and ops
    const isNew = !alerts.has(a.id);
    alerts.set(a.id, a);
    view?.upsertAlert(a);
    renderFeed(isNew || msg.change === "opened" ? a.id : undefined);
    if (msg.change === "opened") cue(a.severity);
    if (selected === a.id) void api.alert(a.id).then(renderDetail).catch(() => null);
  });
  live.addEventListener("position", (ev) => view?.addPosition(JSON.parse((ev as MessageEvent<string>).data)));
}

// ---------- sound cue (Web Audio, no files) ----------
let audio: AudioContext | null = null;
const sound = $<HTMLInputElement>("sound");
sound.checked = localStorage.getItem("routewatch.sound") === "1";
sound.addEventListener("change", () => {
  localStorage.setItem("routewatch.sound", sound.checked ? "1" : "0");
  if (sound.checked) { audio ??= new AudioContext(); void audio.resume(); }
});

function cue(severity: string): void {
  document.title = "● routewatch";
  setTimeout(() => (document.title = "routewatch"), 3000);
  if (!sound.checked) return;
  audio ??= new AudioContext();
  const high = severity === "high" || severity === "critical";
  const t = audio.currentTime;
  for (let i = 0; i < (high ? 2 : 1); i++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = high ? 880 : 660;
    gain.gain.setValueAtTime(0.0001, t + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.3, t + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.25 + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(t + i * 0.25);
    osc.stop(t + i * 0.25 + 0.22);
  }
}

// ---------- corridors + editor ----------
async function loadCorridors(): Promise<void> {
  corridors = await api.corridors();
  await view?.setCorridors(corridors);
  const sel = $<HTMLSelectElement>("ed-existing");
  const current = sel.value;
  sel.innerHTML = `<option value="">(new corridor)</option>` + corridors.features.map((f) => {
    const id = String(f.properties.id ?? f.id);
    return `<option value="${escapeHtml(id)}">${escapeHtml(id)} (v${f.properties.version})</option>`;
  }).join("");
  sel.value = current;
}

let drawing = false;
let points: [number, number][] = [];
const input = <T extends HTMLElement = HTMLInputElement>(id: string) => $<T & { value: string }>(id);

function shape(): string { return input<HTMLSelectElement>("ed-shape").value; }

function syncShapeFields(): void {
  const line = shape() === "LineString";
  document.querySelectorAll<HTMLElement>(".ed-line-only").forEach((el) => (el.hidden = !line));
}

input<HTMLSelectElement>("ed-kind").addEventListener("change", () => {
  const kind = input<HTMLSelectElement>("ed-kind").value;
  if (kind === "line") input<HTMLSelectElement>("ed-shape").value = "LineString";
  if (kind === "exclusion" || kind === "operating_area") input<HTMLSelectElement>("ed-shape").value = "Polygon";
  syncShapeFields();
  renderDraft();
});
input<HTMLSelectElement>("ed-shape").addEventListener("change", () => { syncShapeFields(); renderDraft(); });

function drawClick(lon: number, lat: number): void {
  if (!drawing || $("editor-panel").hidden) return;
  points.push([+lon.toFixed(6), +lat.toFixed(6)]);
  input<HTMLTextAreaElement>("ed-coords").value = JSON.stringify(points);
  renderDraft();
}

function renderDraft(): void {
  if (!view || $("editor-panel").hidden) return;
  const features: unknown[] = points.map((p) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
  const g = geometry();
  if (g) features.push({ type: "Feature", properties: {}, geometry: g });
  void view.setDraft({ type: "FeatureCollection", features } as FeatureCollection);
  view.map.getCanvas().style.cursor = drawing ? "crosshair" : "";
  $("ed-draw").textContent = drawing ? "Stop drawing" : "Draw on map";
}

function geometry(): Feature["geometry"] | null {
  if (shape() === "Polygon") {
    if (points.length < 3) return null;
    return { type: "Polygon", coordinates: [[...points, points[0]]] };
  }
  return points.length >= 2 ? { type: "LineString", coordinates: points } : null;
}

$("ed-draw").addEventListener("click", () => { drawing = !drawing; renderDraft(); });
$("ed-undo").addEventListener("click", () => { points.pop(); input<HTMLTextAreaElement>("ed-coords").value = JSON.stringify(points); renderDraft(); });
$("ed-clear").addEventListener("click", () => { points = []; input<HTMLTextAreaElement>("ed-coords").value = ""; renderDraft(); });
input<HTMLTextAreaElement>("ed-coords").addEventListener("change", () => {
  const text = input<HTMLTextAreaElement>("ed-coords").value.trim();
  try {
    let parsed: unknown = text ? JSON.parse(text) : [];
    if (Array.isArray(parsed) && Array.isArray(parsed[0]) && Array.isArray(parsed[0][0])) parsed = parsed[0]; // a ring
    points = (parsed as number[][]).map((p) => [Number(p[0]), Number(p[1])] as [number, number]);
    if (points.length > 3 && points[0].join() === points[points.length - 1].join()) points.pop();
    $("ed-problems").innerHTML = "";
  } catch {
    $("ed-problems").innerHTML = "<li>Coordinates are not valid JSON: [[lon, lat], …]</li>";
  }
  renderDraft();
});

$("ed-existing").addEventListener("change", () => {
  const id = input<HTMLSelectElement>("ed-existing").value;
  const f = corridors.features.find((x) => String(x.properties.id ?? x.id) === id);
  const p = (f?.properties ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (v == null ? "" : String(v));
  input("ed-id").value = id;
  $<HTMLInputElement>("ed-id").readOnly = !!id;
  input("ed-name").value = str(p.name);
  input<HTMLSelectElement>("ed-kind").value = str(p.kind) || "corridor";
  input("ed-width").value = str(p.width_m);
  input<HTMLSelectElement>("ed-direction").value = str(p.direction);
  input<HTMLSelectElement>("ed-severity").value = str(p.severity);
  input("ed-classes").value = Array.isArray(p.classes) ? p.classes.join(", ") : "";
  input("ed-dwell").value = str(p.min_dwell_s);
  input("ed-progress").value = str(p.min_progress_m);
  const g = f?.geometry;
  input<HTMLSelectElement>("ed-shape").value = g?.type === "Polygon" ? "Polygon" : "LineString";
  const coords = (g?.type === "Polygon" ? (g.coordinates as number[][][])[0].slice(0, -1)
    : g?.type === "LineString" ? (g.coordinates as number[][]) : []) as [number, number][];
  points = coords.map((c) => [c[0], c[1]]);
  input<HTMLTextAreaElement>("ed-coords").value = points.length ? JSON.stringify(points) : "";
  syncShapeFields();
  renderDraft();
  void showHistory(view, id);
});

setupHistory(() => view, async (ids) => {
  await loadCorridors();
  if (!ids.length) return;
  input<HTMLSelectElement>("ed-existing").value = ids[0];
  $("ed-existing").dispatchEvent(new Event("change"));
});

function buildFeature(): Feature {
  const props: Record<string, unknown> = { id: input("ed-id").value.trim(), kind: input<HTMLSelectElement>("ed-kind").value };
  const put = (key: string, v: string, num = false) => { if (v.trim() !== "") props[key] = num ? Number(v) : v.trim(); };
  put("name", input("ed-name").value);
  if (shape() === "LineString") {
    put("width_m", input("ed-width").value, true);
    put("direction", input<HTMLSelectElement>("ed-direction").value);
  }
  put("severity", input<HTMLSelectElement>("ed-severity").value);
  put("min_dwell_s", input("ed-dwell").value, true);
  put("min_progress_m", input("ed-progress").value, true);
  const classes = input("ed-classes").value.split(",").map((c) => c.trim()).filter(Boolean);
  if (classes.length) props.classes = classes;
  const g = geometry() ?? { type: shape(), coordinates: [] };
  return { type: "Feature", properties: props, geometry: g };
}

$("editor-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("ed-problems").innerHTML = "";
  $("ed-result").textContent = "";
  const f = buildFeature();
  if (!geometry()) {
    $("ed-problems").innerHTML = `<li>Draw at least ${shape() === "Polygon" ? 3 : 2} points.</li>`;
    return;
  }
  const existing = input<HTMLSelectElement>("ed-existing").value;
  const comment = input("ed-comment").value;
  try {
    const saved = existing ? await api.updateCorridor(existing, f, comment) : await api.createCorridor(f, comment);
    $("ed-result").textContent = `Saved ${String(saved.properties.id)} version ${String(saved.properties.version)}.`;
    drawing = false;
    await loadCorridors();
    input<HTMLSelectElement>("ed-existing").value = String(saved.properties.id);
    $<HTMLInputElement>("ed-id").readOnly = true;
    renderDraft();
    void showHistory(view, String(saved.properties.id));
  } catch (err) {
    const body = err instanceof ApiError ? (err.body as { detail?: unknown; problems?: { message: string }[] }) : null;
    const problems = body?.problems?.map((p) => p.message) ?? [err instanceof Error ? err.message : String(err)];
    $("ed-problems").innerHTML = problems.map((m) => `<li>${escapeHtml(m)}</li>`).join("");
  }
});

syncShapeFields();
void start();
