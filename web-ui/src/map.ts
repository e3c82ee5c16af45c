// The map view: corridors, the editor's draft and shown version, alert markers, an alert's path, live tracks
// and camera coverage, over the local style of style.ts.
import maplibregl, { type GeoJSONSource } from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import type { Alert, Feature, FeatureCollection, Position, TrackPoint } from "./api";
import { type Basemap, empty, KIND_COLOURS, localStyle, SEVERITY_COLOURS } from "./style";
import { TracksLayer } from "./tracks";

/** The bounds of some features' coordinates. */
function bounds(features: Feature[]): maplibregl.LngLatBounds {
  const b = new maplibregl.LngLatBounds();
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === "number") b.extend(c as [number, number]);
    else if (Array.isArray(c)) c.forEach(walk);
  };
  features.forEach((f) => walk(f.geometry.coordinates));
  return b;
}

export class MapView {
  readonly map: maplibregl.Map;
  private ready: Promise<void>;
  private alertMarkers = new Map<string, maplibregl.Marker>();
  readonly tracks: TracksLayer;
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
    this.tracks = new TracksLayer(this.map, this.ready);
    // A handle for the browser tests (and for poking at the map from the console).
    (window as unknown as { routewatchMap?: maplibregl.Map }).routewatchMap = this.map;
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const [kind, colour] of Object.entries(KIND_COLOURS)) {
      // Built with the DOM, not markup: the Content-Security-Policy refuses inline style attributes.
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = colour;
      item.append(swatch, kind.replace("_", " "));
      legend.appendChild(item);
    }
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
      this.map.fitBounds(bounds(fc.features), { padding: 30, animate: false });
    }
  }

  async setDraft(fc: FeatureCollection): Promise<void> {
    (await this.source("draft")).setData(fc as never);
  }

  /** One stored corridor version (from the editor's history), drawn dashed over the current set. */
  async showVersion(f: Feature | null): Promise<void> {
    (await this.source("version")).setData((f ?? empty()) as never);
  }

  /** Backtest markers: points with a `change` property ("added" or "removed"); an empty collection clears them. */
  async showBacktest(fc: FeatureCollection): Promise<void> {
    (await this.source("backtest")).setData(fc as never);
  }

  /** The coverage layer (GET /api/coverage's `layer`); an empty collection clears it (and the pick). */
  async showCoverage(fc: FeatureCollection): Promise<void> {
    (await this.source("coverage")).setData(fc as never);
    if (!fc.features.length) this.pickCoverage(null, fc);
  }

  /** Outline one corridor's covered part (null: none) and bring it into view. */
  pickCoverage(corridorId: string | null, fc: FeatureCollection): void {
    if (!this.map.getLayer("coverage-picked")) return; // not loaded yet: nothing drawn to pick
    this.map.setFilter("coverage-picked", ["all", ["==", ["get", "layer"], "covered"],
      ["==", ["get", "corridor_id"], corridorId ?? ""]]);
    const parts = fc.features.filter((f) => f.properties.layer === "covered" && f.properties.corridor_id === corridorId);
    if (parts.length) this.map.fitBounds(bounds(parts), { padding: 40, maxZoom: 18, duration: 300 });
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

  /** A live position (see tracks.ts). */
  addPosition(p: Position): void {
    this.tracks.add(p);
  }
}
