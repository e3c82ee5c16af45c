// Live tracks on the map: a class icon per subject (coloured by role) and a wedge showing its heading.
// Symbol layers with icons only: no glyphs or sprite files are needed.
import maplibregl, { type GeoJSONSource, type LayerSpecification } from "maplibre-gl";
import type { Position } from "./api";
import { escapeHtml } from "./dom";
import { drawBadge, drawHeading, ICON_CLASSES, iconClass, type IconClass, imageOf, ROLE_COLOURS } from "./icons";

const roleOf = (role: string) => (role in ROLE_COLOURS ? role : "target");

/** The source of world-track positions (routewatch.pipeline.core.WORLD_SOURCE). */
export const WORLD_SOURCE = "world";
/** Subjects that carry their own identity are their own world track (routewatch.tracking.worldtypes.identified). */
const identified = (p: { role: string; subject_id: string }) =>
  p.role === "patrol" || /^(adsb|odid):/.test(p.subject_id.slice(p.subject_id.lastIndexOf("/") + 1));

/** A world track's position, or an identified subject's (its own track is its world track). */
export const isWorldOrIdentified = (p: { role: string; subject_id: string; source: string }) =>
  p.source === WORLD_SOURCE || identified(p);

/** The style layers that draw the "tracks" source (heading wedges under the badges). */
export const TRACK_LAYERS: LayerSpecification[] = [
  { id: "track-heading", type: "symbol", source: "tracks", filter: ["has", "heading"],
    layout: { "icon-image": ["concat", "heading-", ["get", "role"]], "icon-rotate": ["get", "heading"],
              "icon-rotation-alignment": "map", "icon-allow-overlap": true, "icon-ignore-placement": true } },
  { id: "tracks", type: "symbol", source: "tracks",
    layout: { "icon-image": ["concat", "cls-", ["get", "icon"], "-", ["get", "role"]],
              "icon-allow-overlap": true, "icon-ignore-placement": true } },
];

/** Draw a track icon the first time the map asks for it ("cls-<class>-<role>" or "heading-<role>"). */
function provideImage(map: maplibregl.Map, id: string): void {
  const m = /^(?:cls-([a-z_]+)-|heading-)([a-z]+)$/.exec(id);
  const colour = m ? ROLE_COLOURS[m[2]] : undefined;
  if (!m || !colour || map.hasImage(id)) return;
  if (m[1] !== undefined && !(ICON_CLASSES as readonly string[]).includes(m[1])) return;
  const drawn = m[1] === undefined ? drawHeading(colour) : drawBadge(m[1] as IconClass, colour);
  map.addImage(id, ...imageOf(drawn));
}

export class TracksLayer {
  private tracks = new Map<string, Position>();
  private frame = 0;
  /** Off while the editor draws, so clicks on a track add points instead. */
  popups = true;
  /** With world tracking on, the sensor tracks fused into world tracks are shown only on demand. */
  private worldSeen = false;
  private showSensors = false;

  constructor(private map: maplibregl.Map, private ready: Promise<void>) {
    map.on("styleimagemissing", (e) => provideImage(map, e.id));
    map.on("click", "tracks", (e) => {
      if (!this.popups) return;
      const id = e.features?.[0]?.properties?.id;
      const p = typeof id === "string" ? this.tracks.get(id) : undefined;
      if (p) new maplibregl.Popup({ closeButton: false }).setLngLat([p.lon, p.lat]).setHTML(describe(p)).addTo(map);
    });
    map.on("mouseenter", "tracks", () => { if (this.popups) map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "tracks", () => { if (this.popups) map.getCanvas().style.cursor = ""; });
  }

  /** A live position: coalesced into one source update per animation frame. */
  add(p: Position): void {
    this.tracks.set(p.subject_id, p);
    if (p.source === WORLD_SOURCE && !this.worldSeen) {
      this.worldSeen = true;
      document.getElementById("sensors-toggle")?.removeAttribute("hidden");
    }
    this.redraw();
  }

  /** Show or hide the sensor tracks beside the world tracks. */
  setSensorTracks(on: boolean): void {
    this.showSensors = on;
    this.redraw();
  }

  /** Whether a position is drawn: world tracks always; a sensor's own track only on demand once there are world tracks. */
  private shown(p: Position): boolean {
    return !this.worldSeen || this.showSensors || p.source === WORLD_SOURCE || identified(p);
  }

  private redraw(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.frame = 0;
    const features = [...this.tracks.values()].filter((p) => this.shown(p)).map((p) => ({
      type: "Feature",
      properties: {
        id: p.subject_id, cls: p.subject_class ?? "", icon: iconClass(p.subject_class), role: roleOf(p.role),
        sensor: p.source !== WORLD_SOURCE && this.worldSeen && !identified(p),
        ...(p.heading_deg == null ? {} : { heading: p.heading_deg }),
      },
      geometry: { type: "Point", coordinates: [p.lon, p.lat] },
    }));
    await this.ready;
    (this.map.getSource("tracks") as GeoJSONSource).setData({ type: "FeatureCollection", features } as never);
  }
}

function describe(p: Position): string {
  const bits = [`<b>${escapeHtml(p.subject_class ?? "unknown")}</b> ${escapeHtml(p.subject_id)}`];
  if (p.role === "patrol") bits.push("our patrol");
  bits.push(p.source === WORLD_SOURCE ? "world track (every sensor)" : `seen by ${escapeHtml(p.source)}`);
  if (p.speed_m_s != null) bits.push(`${p.speed_m_s.toFixed(1)} m/s`);
  if (p.heading_deg != null) bits.push(`heading ${p.heading_deg.toFixed(0)}°`);
  bits.push(new Date(p.time).toLocaleTimeString());
  return bits.join("<br>");
}
