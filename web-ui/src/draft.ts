// The editor's draft shape: points clicked on the map (or typed as JSON), drawn as a line or polygon.
import type { Map as MapLibreMap } from "maplibre-gl";
import type { Feature, FeatureCollection } from "./api";
import { $, input } from "./dom";
import { state } from "./state";

let drawing = false;
let points: [number, number][] = [];

const editorShown = () => !$("editor-panel").hidden;

/** "LineString" (centre-line or line) or "Polygon". */
export const shape = (): string => input<HTMLSelectElement>("ed-shape").value;

/** The draft's geometry, or null while it has too few points. */
export function geometry(): Feature["geometry"] | null {
  if (shape() === "Polygon") return points.length < 3 ? null : { type: "Polygon", coordinates: [[...points, points[0]]] };
  return points.length >= 2 ? { type: "LineString", coordinates: points } : null;
}

export function syncShapeFields(): void {
  const line = shape() === "LineString";
  document.querySelectorAll<HTMLElement>(".ed-line-only").forEach((el) => (el.hidden = !line));
}

/** Draw the draft (points and shape) on the map, or nothing when the editor is hidden. */
export function renderDraft(): void {
  const view = state.view;
  if (!view || !editorShown()) return;
  const features: unknown[] = points.map((p) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
  const g = geometry();
  if (g) features.push({ type: "Feature", properties: {}, geometry: g });
  void view.setDraft({ type: "FeatureCollection", features } as FeatureCollection);
  view.map.getCanvas().style.cursor = drawing ? "crosshair" : "";
  view.tracks.popups = !drawing;
  $("ed-draw").textContent = drawing ? "Stop drawing" : "Draw on map";
}

/** Start over from these coordinates (a stored corridor, or none), not drawing. */
export function setPoints(coords: [number, number][]): void {
  points = coords.map((c) => [c[0], c[1]]);
  input<HTMLTextAreaElement>("ed-coords").value = points.length ? JSON.stringify(points) : "";
}

export function stopDrawing(): void {
  drawing = false;
  if (state.view) state.view.tracks.popups = true;
}

/** Hide the draft (the editor was left). */
export function clearDraft(): void {
  stopDrawing();
  void state.view?.setDraft({ type: "FeatureCollection", features: [] });
}

function addPoint(lon: number, lat: number): void {
  if (!drawing || !editorShown()) return;
  points.push([+lon.toFixed(6), +lat.toFixed(6)]);
  input<HTMLTextAreaElement>("ed-coords").value = JSON.stringify(points);
  renderDraft();
}

/** Typed coordinates: [[lon, lat], …] or a polygon's [[[lon, lat], …]] ring. */
function typedPoints(): void {
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
}

/** Wire the draw bar, the coordinates box, kind/shape and clicks on the map (once the map exists). */
export function setupDraft(): void {
  input<HTMLSelectElement>("ed-kind").addEventListener("change", () => {
    const kind = input<HTMLSelectElement>("ed-kind").value;
    if (kind === "line") input<HTMLSelectElement>("ed-shape").value = "LineString";
    if (kind === "exclusion" || kind === "operating_area") input<HTMLSelectElement>("ed-shape").value = "Polygon";
    syncShapeFields();
    renderDraft();
  });
  input<HTMLSelectElement>("ed-shape").addEventListener("change", () => { syncShapeFields(); renderDraft(); });
  $("ed-draw").addEventListener("click", () => { drawing = !drawing; renderDraft(); });
  $("ed-undo").addEventListener("click", () => { points.pop(); setPoints(points); renderDraft(); });
  $("ed-clear").addEventListener("click", () => { setPoints([]); renderDraft(); });
  input<HTMLTextAreaElement>("ed-coords").addEventListener("change", typedPoints);
  syncShapeFields();
}

/** Map clicks add points while drawing. */
export function draftOnMap(map: MapLibreMap): void {
  map.on("click", (e) => addPoint(e.lngLat.lng, e.lngLat.lat));
}
