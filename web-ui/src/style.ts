// The map's style: local only (a background colour, GeoJSON sources and canvas-drawn icons; no glyphs,
// no sprite), with an optional raster basemap (configured tile URL or served MBTiles) and borders file.
import type { ExpressionSpecification, StyleSpecification } from "maplibre-gl";
import type { FeatureCollection } from "./api";
import { TRACK_LAYERS } from "./tracks";

export const KIND_COLOURS: Record<string, string> = {
  corridor: "#2b6cb0", exclusion: "#c53030", operating_area: "#2f855a", line: "#dd6b20",
};
export const SEVERITY_COLOURS: Record<string, string> = {
  info: "#718096", low: "#3182ce", medium: "#d69e2e", high: "#dd6b20", critical: "#c53030",
};

/** Backtest markers: alerts a draft would add (filled) and those it would no longer raise (hollow). */
export const BACKTEST_COLOURS = { added: "#0987a0", removed: "#1a202c" };

/** Camera coverage: the part of a corridor covered at some time (yellow, unlike any corridor kind), and the picked one. */
export const COVERAGE_COLOURS = { fill: "#ffd400", line: "#975a16", picked: "#1a202c" };

/** Replay: the chosen camera's footprint in force (pure magenta), the subjects' paths, the drones' short trails. */
export const REPLAY_COLOURS = { footprint: "#ff00ff", track: "#00b5d8", drone: "#ff7f00" };
const polygonal: ExpressionSpecification = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
const linear: ExpressionSpecification = ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]];
const covered: ExpressionSpecification = ["==", ["get", "layer"], "covered"];

export const empty = (): FeatureCollection => ({ type: "FeatureCollection", features: [] });
const kindColour: ExpressionSpecification = [
  "match", ["get", "kind"],
  "corridor", KIND_COLOURS.corridor, "exclusion", KIND_COLOURS.exclusion,
  "operating_area", KIND_COLOURS.operating_area, "line", KIND_COLOURS.line, "#555",
];
// Corridor centre-lines are drawn at their real width (metres -> pixels at ~mid latitudes).
const metresPerPixelZ0 = 156543.03 * Math.cos((31 * Math.PI) / 180);
const widthPx: ExpressionSpecification = [
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
      backtest: { type: "geojson", data: empty() as never },
      coverage: { type: "geojson", data: empty() as never },
      "rp-corridors": { type: "geojson", data: empty() as never },
      "rp-footprint": { type: "geojson", data: empty() as never },
      "rp-tracks": { type: "geojson", data: empty() as never },
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
      // Coverage (the picked corridor's part drawn thicker: its filter is set by MapView.pickCoverage).
      { id: "coverage-fill", type: "fill", source: "coverage", filter: ["all", covered, polygonal],
        paint: { "fill-color": COVERAGE_COLOURS.fill, "fill-opacity": 0.45 } },
      { id: "coverage-line", type: "line", source: "coverage", filter: ["all", covered, ["any", polygonal, linear]],
        paint: { "line-color": COVERAGE_COLOURS.line, "line-width": ["case", linear, 6, 1.5],
                 "line-opacity": 0.9, "line-dasharray": [2, 1] } },
      { id: "coverage-picked", type: "line", source: "coverage", filter: ["==", ["get", "corridor_id"], ""],
        paint: { "line-color": COVERAGE_COLOURS.picked, "line-width": 4 } },
      // Replay (replaymap.ts): the corridors as they were at the time shown, the footprint, paths and trails.
      { id: "rp-corridor-fill", type: "fill", source: "rp-corridors", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": kindColour, "fill-opacity": 0.18 } },
      { id: "rp-corridor-outline", type: "line", source: "rp-corridors", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "line-color": kindColour, "line-width": 2 } },
      { id: "rp-corridor-band", type: "line", source: "rp-corridors",
        filter: ["all", ["==", ["geometry-type"], "LineString"], ["has", "width_m"]],
        layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": kindColour, "line-opacity": 0.25, "line-width": widthPx } },
      { id: "rp-corridor-line", type: "line", source: "rp-corridors", filter: ["==", ["geometry-type"], "LineString"],
        paint: { "line-color": kindColour, "line-width": 2.5, "line-dasharray": [3, 1] } },
      { id: "rp-footprint-fill", type: "fill", source: "rp-footprint",
        paint: { "fill-color": REPLAY_COLOURS.footprint, "fill-opacity": 0.3 } },
      { id: "rp-footprint-line", type: "line", source: "rp-footprint",
        paint: { "line-color": REPLAY_COLOURS.footprint, "line-width": 2 } },
      { id: "rp-tracks", type: "line", source: "rp-tracks", layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": ["match", ["get", "role"], "patrol", REPLAY_COLOURS.drone, REPLAY_COLOURS.track],
                 "line-width": ["match", ["get", "role"], "patrol", 3, 2], "line-opacity": 0.85 } },
      { id: "alert-path", type: "line", source: "path", paint: { "line-color": "#1a202c", "line-width": 3 } },
      ...TRACK_LAYERS,
      { id: "draft-fill", type: "fill", source: "draft", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": "#805ad5", "fill-opacity": 0.2 } },
      { id: "draft-line", type: "line", source: "draft", filter: ["!=", ["geometry-type"], "Point"],
        paint: { "line-color": "#805ad5", "line-width": 3 } },
      { id: "draft-points", type: "circle", source: "draft", filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": 5, "circle-color": "#805ad5", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
      { id: "backtest-points", type: "circle", source: "backtest",
        paint: { "circle-radius": 7, "circle-stroke-width": 3,
                 "circle-color": ["match", ["get", "change"], "added", BACKTEST_COLOURS.added, "#fff"],
                 "circle-stroke-color": ["match", ["get", "change"], "added", "#fff", BACKTEST_COLOURS.removed] } },
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
