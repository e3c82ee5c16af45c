"""The pure parts of an alert export: the track as GeoJSON and KML, and the one-page HTML incident report.

>>> from datetime import UTC, datetime
>>> from routewatch.model import Observation
>>> fix = Observation("gate/3", datetime(2026, 5, 1, 3, 0, tzinfo=UTC), 5.0, 52.0)
>>> track_geojson("gate/3", [fix])["features"][0]["geometry"]
{'type': 'Point', 'coordinates': [5.0, 52.0]}
>>> safe_name("../etc/passwd")
'etc_passwd'
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from shapely.geometry.base import BaseGeometry

from routewatch.geo.bbox import BBox
from routewatch.model import Alert, Corridor, Observation
from routewatch.store.records import AlertEvent

MAX_NAME = 80


def safe_name(text: str) -> str:
    """A file-name part from an id: letters, digits, '.', '_', '-' only, no '..', no leading dot, at most MAX_NAME."""
    name = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", text)).strip("._")[:MAX_NAME]
    return name or "unnamed"


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t is not None else ""


def track_geojson(subject_id: str, fixes: Sequence[Observation]) -> dict[str, Any]:
    """A FeatureCollection: each fix as a Point (time, class, speed, heading), then the track as a LineString."""
    features: list[dict[str, Any]] = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
         "properties": {"subject_id": f.subject_id, "time": f.time.isoformat(), "class": f.subject_class,
                        "speed_m_s": f.speed_m_s, "heading_deg": f.heading_deg}}
        for f in fixes]
    if len(fixes) > 1:
        features.append({"type": "Feature", "properties": {"subject_id": subject_id, "start": fixes[0].time.isoformat(),
                                                           "end": fixes[-1].time.isoformat()},
                         "geometry": {"type": "LineString", "coordinates": [[f.lon, f.lat] for f in fixes]}})
    return {"type": "FeatureCollection", "features": features}


def _kml_placemarks(subject_id: str, fixes: Sequence[Observation]) -> str:
    """The track's LineString (when it has two fixes or more), then one timed Point Placemark per fix."""
    marks = "".join(
        f"<Placemark><TimeStamp><when>{f.time.isoformat()}</when></TimeStamp>"
        f"<Point><coordinates>{f.lon!r},{f.lat!r}</coordinates></Point></Placemark>" for f in fixes)
    if len(fixes) < 2:
        return marks
    coords = " ".join(f"{f.lon!r},{f.lat!r}" for f in fixes)
    return (f"<Placemark><name>{escape(subject_id)}</name><LineString><coordinates>{coords}</coordinates>"
            f"</LineString></Placemark>{marks}")


def track_kml(subject_id: str, fixes: Sequence[Observation]) -> str:
    """The track as KML: a gx:Track-free LineString plus one timed Placemark per fix (plain KML 2.2)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"<name>{escape(subject_id)}</name>{_kml_placemarks(subject_id, fixes)}</Document></kml>\n")


def _lines(geom: BaseGeometry) -> list[list[tuple[float, float]]]:
    """Every ring or line of a geometry as lon/lat point lists."""
    kind = geom.geom_type
    if kind == "Polygon":
        return [list(geom.exterior.coords), *(list(r.coords) for r in geom.interiors)]
    if kind in ("LineString", "LinearRing"):
        return [list(geom.coords)]
    if kind == "Point":
        return [list(geom.coords)]
    return [ring for part in getattr(geom, "geoms", ()) for ring in _lines(part)]


PALETTE = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457", "#455a64")


def svg_overview(tracks: Mapping[str, Sequence[Observation]], corridors: Sequence[Corridor],
                 points: Sequence[tuple[float, float]], *, width: int = 480, height: int = 320) -> str:
    """A small inline SVG: corridors (grey), each track (its own colour, titled by subject), points (red).

    Nothing to draw gives an empty frame that says so.
    """
    shapes = [ring for c in corridors for ring in _lines(c.geometry)]
    pts = ([(f.lon, f.lat) for fixes in tracks.values() for f in fixes] + list(points)
           + [p[:2] for s in shapes for p in s])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="map of the tracks and corridors">',
             f'<rect width="{width}" height="{height}" fill="#f6f6f2"/>']
    if not pts:
        return "".join(parts) + f'<text x="12" y="{height // 2}" font-size="14">nothing to draw</text></svg>'
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    kx = math.cos(math.radians(sum(lats) / len(lats)))  # equirectangular: fine at an incident's scale
    x0, x1 = min(lons) * kx, max(lons) * kx
    y0, y1 = min(lats), max(lats)
    pad = 12
    scale = min((width - 2 * pad) / max(x1 - x0, 1e-9), (height - 2 * pad) / max(y1 - y0, 1e-9))

    def x(lon: float) -> str:
        return f"{pad + (lon * kx - x0) * scale:.1f}"

    def y(lat: float) -> str:
        return f"{height - pad - (lat - y0) * scale:.1f}"

    for s in shapes:
        closed = len(s) > 2 and s[0] == s[-1]
        pts_s = " ".join(f"{x(p[0])},{y(p[1])}" for p in s)
        parts.append(f'<polyline points="{pts_s}" fill="{"#9992" if closed else "none"}" stroke="#777" '
                     'stroke-width="2"/>')
    for k, (subject, fixes) in enumerate(sorted(tracks.items())):
        colour, title = PALETTE[k % len(PALETTE)], f"<title>{html.escape(subject)}</title>"
        if len(fixes) > 1:
            parts.append(f'<polyline points="{" ".join(f"{x(f.lon)},{y(f.lat)}" for f in fixes)}" fill="none" '
                         f'stroke="{colour}" stroke-width="2">{title}</polyline>')
        elif fixes:
            parts.append(f'<circle cx="{x(fixes[0].lon)}" cy="{y(fixes[0].lat)}" r="3" fill="{colour}">{title}'
                         "</circle>")
    parts.extend(f'<circle cx="{x(lon)}" cy="{y(lat)}" r="5" fill="#c62828"/>' for lon, lat in points)
    return "".join(parts) + "</svg>"


def svg_map(fixes: Sequence[Observation], corridor: Corridor | None, alert: Alert, *,
            width: int = 480, height: int = 320) -> str:
    """A small inline SVG: the corridor in force (grey), the track (blue), the alert position (red)."""
    return svg_overview({alert.subject_id: fixes} if fixes else {}, [corridor] if corridor is not None else [],
                        [(alert.lon, alert.lat)], width=width, height=height)


def incident_html(alert: Alert, *, events: Sequence[AlertEvent], fixes: Sequence[Observation],
                  corridor: Corridor | None, snapshot_jpeg: bytes | None, clip_name: str | None,
                  clip_note: str, generated_at: datetime) -> str:
    """The one-page incident report (self-contained: snapshot as a data URI, map as inline SVG)."""
    e = html.escape
    rows = [("Alert", alert.id), ("Kind", alert.kind.value), ("State", alert.state.value),
            ("Severity", alert.severity.value), ("Subject", f"{alert.subject_id} ({alert.subject_class})"),
            ("Corridor", f"{alert.corridor_id} v{alert.corridor_version}"
                         + (f" ({corridor.name})" if corridor is not None and corridor.name else "")),
            ("Opened", _iso(alert.opened_at)), ("Last seen", _iso(alert.last_seen)), ("Closed", _iso(alert.closed_at)),
            ("Position", f"{alert.lat:.6f}, {alert.lon:.6f}"), ("Source", alert.source),
            ("Clip", clip_name or clip_note)]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    timeline = "".join(
        f"<li><time>{e(_iso(ev.time))}</time> {e(ev.change.value)} ({e(ev.state.value)}, update {ev.updates})"
        + (f" by {e(ev.actor)}" if ev.actor else "") + (f": {e(ev.comment)}" if ev.comment else "") + "</li>"
        for ev in events)
    snap = (f'<img src="data:image/jpeg;base64,{base64.b64encode(snapshot_jpeg).decode()}" alt="snapshot" '
            'style="max-width:100%">' if snapshot_jpeg else "<p>No snapshot stored for this alert.</p>")
    corridor_note = "" if corridor is not None else "<p>The corridor version in force was not found.</p>"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Incident {e(alert.id)}</title>'
            "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}th{text-align:left;padding-right:1em}"
            "section{margin-top:1em}</style></head><body>"
            f"<h1>Incident report: {e(alert.kind.value)} {e(alert.corridor_id)}</h1>"
            f"<table>{table}</table><section><h2>Snapshot</h2>{snap}</section>"
            f"<section><h2>Map</h2>{svg_map(fixes, corridor, alert)}{corridor_note}"
            f"<p>{len(fixes)} fixes of {e(alert.subject_id)}.</p></section>"
            f"<section><h2>Timeline</h2><ol>{timeline}</ol></section>"
            f"<footer><small>Generated {e(_iso(generated_at))} by routewatch export.</small></footer>"
            "</body></html>\n")


# ---- a time range's export: every track in the window, and a one-page report of the window ----


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


_STAMP_CHARS = len("20260501T030000Z")
# The camera part's room, so that both times always stay whole within MAX_NAME.
RANGE_CAMERA_CHARS = MAX_NAME - len("range-") - 2 * (1 + _STAMP_CHARS)
_HASH_CHARS = 8


def range_name(camera: str, since: datetime, until: datetime) -> str:
    """The base file name of a range export: the sanitised camera and the window's UTC times.

    A camera name too long for its room (RANGE_CAMERA_CHARS) is cut and ends with a hash of the whole
    name, so two long names alike at the start do not give one file name; the times are never cut.

    >>> from datetime import timedelta
    >>> t = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    >>> range_name("../gate cam", t, t + timedelta(minutes=1))
    'range-gate_cam-20260501T030000Z-20260501T030100Z'
    """
    part = safe_name(camera)
    if len(part) > RANGE_CAMERA_CHARS:
        # surrogatepass: a name from the command line may hold undecodable bytes as lone surrogates.
        digest = hashlib.sha256(camera.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
        part = part[:RANGE_CAMERA_CHARS - _HASH_CHARS - 1].rstrip("._-") + "_" + digest
    return f"range-{part}-{_stamp(since)}-{_stamp(until)}"


def tracks_geojson(tracks: Mapping[str, Sequence[Observation]]) -> dict[str, Any]:
    """One FeatureCollection of every track (by subject id): its fixes as Points, then its LineString."""
    return {"type": "FeatureCollection",
            "features": [f for subject in sorted(tracks) for f in track_geojson(subject, tracks[subject])["features"]]}


def tracks_kml(name: str, tracks: Mapping[str, Sequence[Observation]]) -> str:
    """Every track as plain KML 2.2: a Folder per subject with its LineString and one timed Placemark per fix."""
    folders = "".join(f"<Folder><name>{escape(s)}</name>{_kml_placemarks(s, tracks[s])}</Folder>"
                      for s in sorted(tracks))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"<name>{escape(name)}</name>{folders}</Document></kml>\n")


@dataclass(frozen=True, slots=True)
class WindowReport:
    """What the report of a time window shows (all read already; the HTML is made from this alone)."""

    camera: str
    since: datetime
    until: datetime
    alerts: Sequence[Alert]  # opened in the window, oldest first
    thumbnails: Mapping[str, bytes]  # alert id -> small JPEG of its snapshot
    events: Sequence[AlertEvent]  # of those alerts
    tracks: Mapping[str, Sequence[Observation]]
    corridors: Sequence[Corridor]  # in force at the window's start, and those the alerts were raised against
    clip_name: str | None
    clip_note: str
    generated_at: datetime
    area: BBox | None = None
    notes: Sequence[str] = ()  # truncations and the like


def window_html(r: WindowReport) -> str:
    """The one-page report of a window (self-contained: thumbnails as data URIs, map as inline SVG)."""
    e = html.escape

    def thumb(alert_id: str) -> str:
        jpeg = r.thumbnails.get(alert_id)
        return (f'<img src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}" alt="snapshot of {e(alert_id)}">'
                if jpeg else "—")

    alert_rows = "".join(
        f"<tr><td>{e(_iso(a.opened_at))}</td><td>{e(a.kind.value)}</td>"
        f"<td>{e(a.corridor_id)} v{a.corridor_version}</td>"
        f"<td>{e(a.subject_id)}</td><td>{e(a.severity.value)}</td><td>{e(a.state.value)}</td><td>{thumb(a.id)}</td>"
        f"<td><code>{e(a.id)}</code></td></tr>" for a in r.alerts)
    alerts = (f"<table class=\"alerts\"><tr><th>Opened</th><th>Kind</th><th>Corridor</th><th>Subject</th>"
              f"<th>Severity</th><th>State</th><th>Snapshot</th><th>Id</th></tr>{alert_rows}</table>"
              if r.alerts else "<p>No alert was opened in this window.</p>")
    by_id = {a.id: a for a in r.alerts}
    timeline = "".join(
        f"<li><time>{e(_iso(ev.time))}</time> {e(ev.change.value)} "
        + (f"{e(by_id[ev.alert_id].kind.value)} {e(by_id[ev.alert_id].corridor_id)} "
           f"{e(by_id[ev.alert_id].subject_id)} " if ev.alert_id in by_id else "")
        + f"({e(ev.state.value)})" + (f" by {e(ev.actor)}" if ev.actor else "")
        + (f": {e(ev.comment)}" if ev.comment else "") + "</li>"
        for ev in sorted(r.events, key=lambda ev: (ev.time, ev.seq)))
    track_rows = "".join(
        f"<tr><td>{e(s)}</td><td>{e(fixes[0].subject_class)}</td><td>{len(fixes)}</td>"
        f"<td>{e(_iso(fixes[0].time))}</td><td>{e(_iso(fixes[-1].time))}</td></tr>"
        for s, fixes in sorted(r.tracks.items()) if fixes)
    tracks = (f"<table><tr><th>Subject</th><th>Class</th><th>Fixes</th><th>First</th><th>Last</th></tr>{track_rows}"
              "</table>" if track_rows else "<p>No stored positions in this window.</p>")
    rows = [("Camera", r.camera), ("From", _iso(r.since)), ("To", _iso(r.until)),
            ("Area", r.area.text() if r.area is not None else "all"), ("Clip", r.clip_name or r.clip_note),
            ("Alerts", str(len(r.alerts))), ("Tracks", str(len(r.tracks))),
            ("Corridors", ", ".join(f"{c.id} v{c.version}" for c in r.corridors) or "none in force")]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    notes = "".join(f"<p class=\"note\">{e(n)}</p>" for n in r.notes)
    svg = svg_overview(r.tracks, r.corridors, [(a.lon, a.lat) for a in r.alerts])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Window {e(r.camera)} '
            f"{e(_iso(r.since))}</title><style>body{{font-family:sans-serif;max-width:60em;margin:1em auto}}"
            "th{text-align:left;padding-right:1em}td{padding-right:1em;vertical-align:top}section{margin-top:1em}"
            ".alerts img{max-width:160px}.note{color:#a33}</style></head><body>"
            f"<h1>Window report: camera {e(r.camera)}</h1><table>{table}</table>{notes}"
            f"<section><h2>Alerts</h2>{alerts}</section>"
            f"<section><h2>Map</h2>{svg}<p>{sum(len(f) for f in r.tracks.values())} fixes of {len(r.tracks)} "
            "track(s); alerts in red, corridors in grey.</p></section>"
            f"<section><h2>Tracks</h2>{tracks}</section>"
            f"<section><h2>Timeline</h2><ol>{timeline}</ol></section>"
            f"<footer><small>Generated {e(_iso(r.generated_at))} by routewatch export.</small></footer>"
            "</body></html>\n")
