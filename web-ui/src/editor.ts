// The corridor editor (planners): pick or start a corridor, set its properties, save a new version,
// see 422 problems inline; history and import are in history.ts, the drawn shape in draft.ts.
import { api, ApiError, type Feature, type FeatureCollection } from "./api";
import { $, escapeHtml, input } from "./dom";
import { clearDraft, geometry, renderDraft, setPoints, setupDraft, shape, stopDrawing, syncShapeFields } from "./draft";
import { setupHistory, showHistory } from "./history";
import { onRoute } from "./router";
import { state } from "./state";

let corridors: FeatureCollection = { type: "FeatureCollection", features: [] };

const idOf = (f: Feature) => String(f.properties.id ?? f.id);

/** Load the corridors onto the map and into the editor's list. */
export async function loadCorridors(): Promise<void> {
  corridors = await api.corridors();
  await state.view?.setCorridors(corridors);
  const sel = input<HTMLSelectElement>("ed-existing");
  const current = sel.value;
  sel.innerHTML = `<option value="">(new corridor)</option>` + corridors.features.map((f) =>
    `<option value="${escapeHtml(idOf(f))}">${escapeHtml(idOf(f))} (v${f.properties.version})</option>`).join("");
  sel.value = current;
}

/** Fill the form from the picked corridor (or empty it for a new one). */
function pick(): void {
  const id = input<HTMLSelectElement>("ed-existing").value;
  const f = corridors.features.find((x) => idOf(x) === id);
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
  setPoints((g?.type === "Polygon" ? (g.coordinates as number[][][])[0].slice(0, -1)
    : g?.type === "LineString" ? (g.coordinates as number[][]) : []) as [number, number][]);
  syncShapeFields();
  renderDraft();
  void showHistory(state.view, id);
}

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
  return { type: "Feature", properties: props, geometry: geometry() ?? { type: shape(), coordinates: [] } };
}

/**
 * The set in force with the corridor being edited (unsaved changes included) in place of its namesake,
 * or added when new; a message instead when the edit is incomplete. Nothing edited: the set in force.
 */
export function draftSet(): FeatureCollection | string {
  const id = input("ed-id").value.trim();
  const g = geometry();
  if (!id && !g) return corridors;
  if (!id) return "Give the draft corridor an id.";
  if (!g) return `Draw at least ${shape() === "Polygon" ? 3 : 2} points for ${id}.`;
  const f = buildFeature();
  const current = corridors.features.find((x) => idOf(x) === id);
  if (current) f.properties.version = current.properties.version; // alerts name the version being edited
  return { type: "FeatureCollection", features: [...corridors.features.filter((x) => idOf(x) !== id), f] };
}

async function save(): Promise<void> {
  $("ed-problems").innerHTML = "";
  $("ed-result").textContent = "";
  if (!geometry()) {
    $("ed-problems").innerHTML = `<li>Draw at least ${shape() === "Polygon" ? 3 : 2} points.</li>`;
    return;
  }
  const f = buildFeature();
  const existing = input<HTMLSelectElement>("ed-existing").value;
  const comment = input("ed-comment").value;
  try {
    const saved = existing ? await api.updateCorridor(existing, f, comment) : await api.createCorridor(f, comment);
    const id = String(saved.properties.id);
    $("ed-result").textContent = `Saved ${id} version ${String(saved.properties.version)}.`;
    input("ed-comment").value = ""; // the next save needs its own reason, not this one's in its audit record
    stopDrawing();
    await loadCorridors();
    input<HTMLSelectElement>("ed-existing").value = id;
    $<HTMLInputElement>("ed-id").readOnly = true;
    renderDraft();
    void showHistory(state.view, id);
  } catch (err) {
    const body = err instanceof ApiError ? (err.body as { problems?: { message: string }[] }) : null;
    const problems = body?.problems?.map((p) => p.message) ?? [err instanceof Error ? err.message : String(err)];
    $("ed-problems").innerHTML = problems.map((m) => `<li>${escapeHtml(m)}</li>`).join("");
  }
}

export function setupEditor(): void {
  setupDraft();
  $("ed-existing").addEventListener("change", pick);
  setupHistory(() => state.view, async (ids) => {
    await loadCorridors();
    if (!ids.length) return;
    input<HTMLSelectElement>("ed-existing").value = ids[0];
    pick();
  });
  $("editor-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void save();
  });
  onRoute((shown) => {
    if (shown) return renderDraft();
    clearDraft();
    void state.view?.showVersion(null);
  });
}
