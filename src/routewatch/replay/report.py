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
import html
import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from shapely.geometry.base import BaseGeometry

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


def track_kml(subject_id: str, fixes: Sequence[Observation]) -> str:
    """The track as KML: a gx:Track-free LineString plus one timed Placemark per fix (plain KML 2.2)."""
    name = escape(subject_id)
    marks = "".join(
        f"<Placemark><TimeStamp><when>{f.time.isoformat()}</when></TimeStamp>"
        f"<Point><coordinates>{f.lon!r},{f.lat!r}</coordinates></Point></Placemark>" for f in fixes)
    line = ""
    if len(fixes) > 1:
        coords = " ".join(f"{f.lon!r},{f.lat!r}" for f in fixes)
        line = f"<Placemark><name>{name}</name><LineString><coordinates>{coords}</coordinates></LineString></Placemark>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"<name>{name}</name>{line}{marks}</Document></kml>\n")


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


def svg_map(fixes: Sequence[Observation], corridor: Corridor | None, alert: Alert, *,
            width: int = 480, height: int = 320) -> str:
    """A small inline SVG: the corridor in force (grey), the track (blue), the alert position (red)."""
    shapes = _lines(corridor.geometry) if corridor is not None else []
    pts = [(f.lon, f.lat) for f in fixes] + [(alert.lon, alert.lat)] + [p[:2] for s in shapes for p in s]
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    kx = math.cos(math.radians(sum(lats) / len(lats)))  # equirectangular: fine at an incident's scale
    x0, x1 = min(lons) * kx, max(lons) * kx
    y0, y1 = min(lats), max(lats)
    pad = 12
    scale = min((width - 2 * pad) / max(x1 - x0, 1e-9), (height - 2 * pad) / max(y1 - y0, 1e-9))

    def xy(lon: float, lat: float) -> str:
        return f"{pad + (lon * kx - x0) * scale:.1f},{height - pad - (lat - y0) * scale:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="map of the track and corridor">',
             f'<rect width="{width}" height="{height}" fill="#f6f6f2"/>']
    for s in shapes:
        closed = len(s) > 2 and s[0] == s[-1]
        pts_s = " ".join(xy(p[0], p[1]) for p in s)
        parts.append(f'<polyline points="{pts_s}" fill="{"#9992" if closed else "none"}" stroke="#777" '
                     'stroke-width="2"/>')
    if fixes:
        parts.append(f'<polyline points="{" ".join(xy(f.lon, f.lat) for f in fixes)}" fill="none" '
                     'stroke="#1565c0" stroke-width="2"/>')
    parts.append(f'<circle cx="{xy(alert.lon, alert.lat).split(",")[0]}" cy="{xy(alert.lon, alert.lat).split(",")[1]}" '
                 'r="5" fill="#c62828"/></svg>')
    return "".join(parts)


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
