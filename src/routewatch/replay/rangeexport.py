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

from routewatch.geo.bbox import BBox
from routewatch.geo.coverage import spans_in_force
from routewatch.model import Alert, Corridor, Observation
from routewatch.recording.evidence import encode_jpeg
from routewatch.recording.read import frames_between
from routewatch.replay.export import ExportError, Progress, export_clip, out_dir
from routewatch.replay.report import WindowReport, range_name, tracks_geojson, tracks_kml, window_html
from routewatch.store import Store
from routewatch.store.records import AlertEvent

# A clip of an hour is already large: recordings are stream copies at the camera's rate, so 90,000-108,000
# frames at 25-30 fps (18,000 at 5 fps). The web export also bounds the frames (web.export.MAX_FRAMES).
MAX_CLIP_S = 3600.0
MAX_FIXES = 200_000  # positions written at most (the GeoJSON is ~200 bytes a fix); past it, a note
MAX_ALERTS = 200  # alerts listed in the report at most
AREA_SLICE_S = 300.0  # the window is searched for an area's subjects this many seconds at a time
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


def subjects_in(store: Store, since: datetime, until: datetime, area: BBox,
                slice_s: float = AREA_SLICE_S) -> list[str]:
    """The subjects with a fix in `area` in [since, until), in the order they first showed there.

    The box is tested in SQL; the window is read a slice at a time, so memory holds one slice's fixes.
    """
    found: dict[str, None] = {}
    start = since
    while start < until:
        end = min(start + timedelta(seconds=slice_s), until)
        for f in store.positions.between(start, end, bbox=area.as_tuple()):
            found.setdefault(f.subject_id, None)
        start = end
    return list(found)


def read_tracks(store: Store, since: datetime, until: datetime, area: BBox | None,
                limit: int = MAX_FIXES) -> tuple[dict[str, list[Observation]], bool]:
    """Every subject's fixes in [since, until) (those with a fix in `area`, when given), and whether cut at `limit`.

    With an area, its subjects are found first and only their tracks are read, so the cap counts only
    fixes that are kept (traffic elsewhere cannot crowd them out): whole tracks, in the order the
    subjects entered the area, the last one cut at the cap.
    """
    tracks: dict[str, list[Observation]] = {}
    total = 0
    if area is not None:
        for subject in subjects_in(store, since, until, area):
            if total >= limit:
                return tracks, True
            fixes = store.positions.of_subject(subject, since, until)
            tracks[subject] = fixes[:limit - total]
            total += len(tracks[subject])
            if len(fixes) > len(tracks[subject]):
                return tracks, True
        return tracks, False
    for chunk in store.positions.stream(since, until):
        for f in chunk:
            if total >= limit:
                return tracks, True
            tracks.setdefault(f.subject_id, []).append(f)
            total += 1
    return tracks, False


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
    versions = store.corridors.versions()
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
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_frames: int | None = None) -> RangeExportResult:
    """Write the camera's clip over [since, until], every track in the window and its report into `out`.

    ExportError for bad input (zone-less, reversed, empty or too long a window; an unknown camera;
    a bad output directory; more than `max_frames` frames, when given), before any file is written.
    """
    check_range(since, until)
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if camera not in store.recordings.cameras():
        raise ExportError(f"nothing recorded for camera {camera!r}")
    directory = out_dir(out)
    base = range_name(camera, since, until)
    clip, written, note = export_clip(recordings, camera,
                                      frames_between(store, camera, since, until, max_range_s=MAX_CLIP_S),
                                      directory / f"{base}.mp4", boxes=boxes, progress=progress,
                                      empty=f"no clip: nothing of camera {camera} was recorded in the window",
                                      max_frames=max_frames)
    tracks, truncated = read_tracks(store, since, until, area)
    # The area is applied in the query: a limit before it would miss alerts inside it past the first ones.
    listed = store.alerts.find(since=since, until=until, limit=MAX_ALERTS + 1,
                               within=area.polygon() if area is not None else None)
    alerts = listed[:MAX_ALERTS]
    notes = [f"Positions cut at {MAX_FIXES:,} fixes; export a shorter window for all of them."] if truncated else []
    if len(listed) > MAX_ALERTS:
        notes.append(f"Only the first {MAX_ALERTS} alerts of the window{' in the area' if area else ''} are listed.")
    thumbs: dict[str, bytes] = {}
    events: list[AlertEvent] = []
    for a in alerts:
        snap = store.snapshots.get(a.id)
        small = thumbnail(snap.jpeg) if snap is not None else None
        if small is not None:
            thumbs[a.id] = small
        events.extend(store.alerts.events(a.id))
    geojson, kml, report = (directory / f"{base}{ext}" for ext in (".geojson", ".kml", ".html"))
    geojson.write_text(json.dumps(tracks_geojson(tracks)))
    kml.write_text(tracks_kml(base, tracks))
    report.write_text(window_html(WindowReport(
        camera=camera, since=since, until=until, alerts=alerts, thumbnails=thumbs, events=events, tracks=tracks,
        corridors=corridors_for(store, since, alerts), clip_name=clip.name if clip is not None else None,
        clip_note=note, generated_at=clock(), area=area, notes=notes)))
    fixes = sum(len(f) for f in tracks.values())
    return RangeExportResult(clip, geojson, kml, report, written, fixes, len(tracks), len(alerts), note)
