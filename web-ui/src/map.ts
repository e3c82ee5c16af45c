// The map: a local style (background colour + GeoJSON sources only, no tiles, no glyphs).
import maplibregl, { type GeoJSONSource, type StyleSpecification } from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import type { Alert, Feature, FeatureCollection, Position, TrackPoint } from "./api";

export const KIND_COLOURS: Record<string, string> = {
  corridor: "#2b6cb0", exclusion: "#c53030", operating_area: "#2f855a", line: "#dd6b20",
};
export const SEVERITY_COLOURS: Record<string, string> = {
  info: "#718096", low: "#3182ce", medium: "#d69e2e", high: "#dd6b20", critical: "#c53030",
};
const CLASS_SHORT: Record<string, string> = {
  person: "P", car: "C", truck: "T", drone: "D", moving_object: "?", animal: "A",
};

const empty = (): FeatureCollection => ({ type: "FeatureCollection", features: [] });
const kindColour: maplibregl.ExpressionSpecification = [
  "match", ["get", "kind"],
  "corridor", KIND_COLOURS.corridor, "exclusion", KIND_COLOURS.exclusion,
  "operating_area", KIND_COLOURS.operating_area, "line", KIND_COLOURS.line, "#555",
];
// Corridor centre-lines are drawn at their real width (metres -> pixels at ~mid latitudes).
const metresPerPixelZ0 = 156543.03 * Math.cos((31 * Math.PI) / 180);
const widthPx: maplibregl.ExpressionSpecification = [
  "interpolate", ["exponential", 2], ["zoom"],
  0, ["max", 2, ["/", ["coalesce", ["get", "width_m"], 0], metresPerPixelZ0]],
  22, ["max", 2, ["/", ["coalesce", ["get", "width_m"], 0], metresPerPixelZ0 / 2 ** 22]],
];

export interface Basemap { source: string; tiles_url: string | null; borders_url: string | null }

const absolute = (url: string) => new URL(url, location.origin).href.replace(/%7B/g, "{").replace(/%7D/g, "}");

export function localStyle(tileUrl?: string | null, bordersUrl?: string | null): StyleSpecification {
  const style: StyleSpecification = {
    version: 8,
    sources: {
      corridors: { type: "geojson", data: empty() as never },
      tracks: { type: "geojson", data: empty() as never },
      path: { type: "geojson", data: empty() as never },
      draft: { type: "geojson", data: empty() as never },
      version: { type: "geojson", data: empty() as never },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#e8e4d8" } },
      { id: "corridor-fill", type: "fill", source: "corridors", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": kindColour, "fill-opacity": 0.18 } },
      { id: "corridor-outline", type: "line", source: "corridors", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "line-color": kindColour, "line-width": 2 } },
      { id: "corridor-band", type: "line", source: "corridors",
        filter: ["all", ["==", ["geometry-type"], "LineString"], ["has", "width_m"]],
        layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": kindColour, "line-opacity": 0.25, "line-width": widthPx } },
      { id: "corridor-line", type: "line", source: "corridors", filter: ["==", ["geometry-type"], "LineString"],
        paint: { "line-color": kindColour, "line-width": 2.5, "line-dasharray": [3, 1] } },
      { id: "version-line", type: "line", source: "version",
        paint: { "line-color": "#d53f8c", "line-width": 3, "line-dasharray": [1, 1] } },
      { id: "alert-path", type: "line", source: "path", paint: { "line-color": "#1a202c", "line-width": 3 } },
      { id: "tracks", type: "circle", source: "tracks",
        paint: { "circle-radius": 6, "circle-color": ["match", ["get", "role"], "patrol", "#2f855a", "#1a202c"],
                 "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } },
      { id: "draft-fill", type: "fill", source: "draft", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": "#805ad5", "fill-opacity": 0.2 } },
      { id: "draft-line", type: "line", source: "draft", filter: ["!=", ["geometry-type"], "Point"],
        paint: { "line-color": "#805ad5", "line-width": 3 } },
      { id: "draft-points", type: "circle", source: "draft", filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": 5, "circle-color": "#805ad5", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
    ],
  };
  if (bordersUrl) { // optional borders from a local file, drawn over the basemap
    style.sources.borders = { type: "geojson", data: absolute(bordersUrl) };
    style.layers.splice(1, 0, { id: "borders", type: "line", source: "borders",
      paint: { "line-color": "#4a5568", "line-width": 1.5, "line-dasharray": [4, 2] } });
  }
  if (tileUrl) { // optional configured or served (MBTiles) raster basemap, drawn under everything else
    style.sources.basemap = { type: "raster", tiles: [absolute(tileUrl)], tileSize: 256 };
    style.layers.splice(1, 0, { id: "basemap", type: "raster", source: "basemap" });
  }
  return style;
}

export class MapView {
  readonly map: maplibregl.Map;
  private ready: Promise<void>;
  private alertMarkers = new Map<string, maplibregl.Marker>();
  private trackLabels = new Map<string, maplibregl.Marker>();
  private tracks = new Map<string, Position>();
  private trackFrame = 0;
  private fitted = false;
  onAlertClick: (id: string) => void = () => {};

  constructor(container: HTMLElement, basemap?: Basemap | null) {
    this.map = new maplibregl.Map({
      container, style: localStyle(basemap?.tiles_url, basemap?.borders_url), center: [-110.98, 31.335], zoom: 13,
      attributionControl: false, fadeDuration: 0,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    this.ready = new Promise((resolve) => this.map.once("load", () => resolve()));
    const legend = document.createElement("div");
    legend.className = "legend";
    legend.innerHTML = Object.entries(KIND_COLOURS)
      .map(([k, c]) => `<span><i style="background:${c}"></i>${k.replace("_", " ")}</span>`).join("");
    container.appendChild(legend);
  }

  private async source(name: string): Promise<GeoJSONSource> {
    await this.ready;
    return this.map.getSource(name) as GeoJSONSource;
  }

  async setCorridors(fc: FeatureCollection): Promise<void> {
    (await this.source("corridors")).setData(fc as never);
    if (!this.fitted && fc.features.length) {
      this.fitted = true;
      const b = new maplibregl.LngLatBounds();
      const walk = (c: unknown): void => {
        if (Array.isArray(c) && typeof c[0] === "number") b.extend(c as [number, number]);
        else if (Array.isArray(c)) c.forEach(walk);
      };
      fc.features.forEach((f) => walk(f.geometry.coordinates));
      this.map.fitBounds(b, { padding: 30, animate: false });
    }
  }

  async setDraft(fc: FeatureCollection): Promise<void> {
    (await this.source("draft")).setData(fc as never);
  }

  /** One stored corridor version (from the editor's history), drawn dashed over the current set. */
  async showVersion(f: Feature | null): Promise<void> {
    (await this.source("version")).setData((f ?? empty()) as never);
  }

  async showPath(points: TrackPoint[]): Promise<void> {
    const data = points.length > 1
      ? { type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: points.map((p) => [p.lon, p.lat]) } }
      : empty();
    (await this.source("path")).setData(data as never);
  }

  upsertAlert(a: Alert): void {
    let m = this.alertMarkers.get(a.id);
    if (a.state === "closed") {
      m?.remove();
      this.alertMarkers.delete(a.id);
      return;
    }
    if (!m) {
      const el = document.createElement("button");
      el.className = "alert-marker";
      el.title = `${a.kind} ${a.subject_id}`;
      el.dataset.alertId = a.id;
      el.addEventListener("click", (ev) => { ev.stopPropagation(); this.onAlertClick(a.id); });
      m = new maplibregl.Marker({ element: el }).setLngLat([a.lon, a.lat]).addTo(this.map);
      this.alertMarkers.set(a.id, m);
    }
    m.setLngLat([a.lon, a.lat]);
    const el = m.getElement();
    el.style.background = SEVERITY_COLOURS[a.severity] ?? "#555";
    el.classList.toggle("acked", a.state === "acknowledged");
  }

  flyTo(lon: number, lat: number): void {
    this.map.easeTo({ center: [lon, lat], duration: 300 });
  }

  /** Live positions: coalesced into one source update per animation frame. */
  addPosition(p: Position): void {
    this.tracks.set(p.subject_id, p);
    if (!this.trackFrame) this.trackFrame = requestAnimationFrame(() => void this.flushTracks());
  }

  private async flushTracks(): Promise<void> {
    this.trackFrame = 0;
    const features = [...this.tracks.values()].map((p) => ({
      type: "Feature", properties: { id: p.subject_id, cls: p.subject_class ?? "", role: p.role },
      geometry: { type: "Point", coordinates: [p.lon, p.lat] },
    }));
    (await this.source("tracks")).setData({ type: "FeatureCollection", features } as never);
    for (const p of this.tracks.values()) { // class labels as small DOM markers (no glyph server needed)
      let label = this.trackLabels.get(p.subject_id);
      if (!label) {
        const el = document.createElement("div");
        el.className = "track-label";
        label = new maplibregl.Marker({ element: el, anchor: "left", offset: [8, 0] }).setLngLat([p.lon, p.lat]).addTo(this.map);
        this.trackLabels.set(p.subject_id, label);
      }
      const cls = p.subject_class ?? p.role;
      const arrow = p.heading_deg == null ? "" : `<span class="hdg" style="transform:rotate(${p.heading_deg}deg)">↑</span>`;
      label.getElement().innerHTML = `${arrow}${CLASS_SHORT[cls] ?? ""} ${escapeHtml(cls)}`;
      label.setLngLat([p.lon, p.lat]);
    }
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
