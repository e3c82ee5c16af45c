"""Export a time range of one camera into a directory: its MP4 clip, every track (GeoJSON, KML), a report.

The clip holds the camera's recorded frames in [since, until], re-encoded as `export_alert` does
(boxes burned in when asked). The tracks are every subject with stored positions in the window
(only those with a fix inside `area`, when given: their whole track in the window is kept so a
track is not cut at the box's edge). The report lists the alerts opened in the window with
thumbnails of their snapshots, maps the tracks and the corridors, and lays out the alert events.
File names come only from the sanitised camera name and the window's times (`report.range_name`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from routewatch.evidence import encode_jpeg
from routewatch.geo.bbox import BBox
from routewatch.geo.coverage import spans_in_force
from routewatch.model import Alert, Corridor, Observation
from routewatch.recording.read import frames_between
from routewatch.replay.export import ExportError, Progress, export_clip, out_dir
from routewatch.replay.report import WindowReport, range_name, tracks_geojson, tracks_kml, window_html
from routewatch.store import Store
from routewatch.store.records import AlertEvent

MAX_CLIP_S = 3600.0  # a clip of an hour is already large (about 18,000 frames at 5 fps); ask for less
MAX_FIXES = 200_000  # positions written at most (the GeoJSON is ~200 bytes a fix); past it, a note
MAX_ALERTS = 200  # alerts listed in the report at most
THUMB_W = 240  # snapshot thumbnails' width in pixels


@dataclass(frozen=True, slots=True)
class RangeExportResult:
    """What was written (clip None when nothing was recorded, and `note` says so) and how much."""

    clip: Path | None
    geojson: Path
    kml: Path
    report: Path
    frames: int
    fixes: int
    tracks: int
    alerts: int
    note: str


def check_range(since: datetime, until: datetime, *, max_s: float = MAX_CLIP_S) -> None:
    """ExportError unless [since, until] has time zones, is not reversed nor empty, and lasts at most `max_s`."""
    for name, t in (("--from", since), ("--to", until)):
        if t.utcoffset() is None:
            raise ExportError(f"{name} {t.isoformat()} has no time zone (add Z for UTC)")
    if until < since:
        raise ExportError(f"time range is reversed: {since.isoformat()} .. {until.isoformat()}")
    if until == since:
        raise ExportError("time range is empty: --from equals --to")
    if (until - since).total_seconds() > max_s:
        raise ExportError(f"time range longer than {max_s / 3600:g} h; a clip is at most that long, ask for less")


def read_tracks(store: Store, since: datetime, until: datetime, area: BBox | None,
                limit: int = MAX_FIXES) -> tuple[dict[str, list[Observation]], bool]:
    """Every subject's fixes in [since, until) (those with a fix in `area`, when given), and whether cut at `limit`."""
    tracks: dict[str, list[Observation]] = {}
    inside: set[str] = set()
    total, truncated = 0, False
    for chunk in store.iter_positions(since, until):
        for f in chunk:
            if total >= limit:
                truncated = True
                break
            tracks.setdefault(f.subject_id, []).append(f)
            total += 1
            if area is not None and area.contains(f.lon, f.lat):
                inside.add(f.subject_id)
        if truncated:
            break
    if area is not None:
        tracks = {s: fixes for s, fixes in tracks.items() if s in inside}
    return tracks, truncated


def thumbnail(jpeg: bytes, width: int = THUMB_W) -> bytes | None:
    """A smaller JPEG of a snapshot (the same one when already narrow); None when it does not decode."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    if image.shape[1] <= width:
        return jpeg
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return encode_jpeg(np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8),
                       quality=80)


def corridors_for(store: Store, since: datetime, alerts: Sequence[Alert]) -> list[Corridor]:
    """The corridor versions in force at `since`, then those the alerts were raised against (each once)."""
    versions = store.corridor_versions()
    found = {(s.corridor.id, s.corridor.version): s.corridor
             for s in spans_in_force(versions, since, since + timedelta(microseconds=1))}
    # An alert names the version it was raised against: shown even when saved after the window began.
    stored = {(c.id, c.version): c for c, _, _ in versions}
    for a in alerts:
        key = (a.corridor_id, a.corridor_version)
        if key in stored:
            found.setdefault(key, stored[key])
    return [found[k] for k in sorted(found)]


def export_range(store: Store, recordings: Path, camera: str, since: datetime, until: datetime, out: Path, *,
                 boxes: bool = True, area: BBox | None = None, progress: Progress | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RangeExportResult:
    """Write the camera's clip over [since, until], every track in the window and its report into `out`.

    ExportError for bad input (zone-less, reversed, empty or too long a window; an unknown camera;
    a bad output directory), before anything is written.
    """
    check_range(since, until)
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if camera not in store.recording_cameras():
        raise ExportError(f"nothing recorded for camera {camera!r}")
    directory = out_dir(out)
    base = range_name(camera, since, until)
    clip, written, note = export_clip(recordings, camera,
                                      frames_between(store, camera, since, until, max_range_s=MAX_CLIP_S),
                                      directory / f"{base}.mp4", boxes=boxes, progress=progress,
                                      empty=f"no clip: nothing of camera {camera} was recorded in the window")
    tracks, truncated = read_tracks(store, since, until, area)
    listed = store.list_alerts(since=since, until=until, limit=MAX_ALERTS + 1)
    alerts = [a for a in listed if area is None or area.contains(a.lon, a.lat)][:MAX_ALERTS]
    notes = [f"Positions cut at {MAX_FIXES:,} fixes; export a shorter window for all of them."] if truncated else []
    if len(listed) > MAX_ALERTS:
        notes.append(f"Only the first {MAX_ALERTS} alerts of the window are listed.")
    thumbs: dict[str, bytes] = {}
    events: list[AlertEvent] = []
    for a in alerts:
        snap = store.get_snapshot(a.id)
        small = thumbnail(snap.jpeg) if snap is not None else None
        if small is not None:
            thumbs[a.id] = small
        events.extend(store.alert_events(a.id))
    geojson, kml, report = (directory / f"{base}{ext}" for ext in (".geojson", ".kml", ".html"))
    geojson.write_text(json.dumps(tracks_geojson(tracks)))
    kml.write_text(tracks_kml(base, tracks))
    report.write_text(window_html(WindowReport(
        camera=camera, since=since, until=until, alerts=alerts, thumbnails=thumbs, events=events, tracks=tracks,
        corridors=corridors_for(store, since, alerts), clip_name=clip.name if clip is not None else None,
        clip_note=note, generated_at=clock(), area=area, notes=notes)))
    fixes = sum(len(f) for f in tracks.values())
    return RangeExportResult(clip, geojson, kml, report, written, fixes, len(tracks), len(alerts), note)
