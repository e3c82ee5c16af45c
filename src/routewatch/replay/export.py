"""Export one alert into a directory: an MP4 clip of its camera, its subject's track (GeoJSON, KML), a report.

The clip spans opened_at - before .. (closed_at or last_seen) + after, decoded from the recorded
segments and re-encoded (mp4v) at the recording's frame rate, with the stored boxes burned in
when asked. An alert not raised from a recorded camera gets tracks and report, no clip.
File names come only from the sanitised alert id (see `report.safe_name`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from routewatch.model import Alert, Corridor
from routewatch.recording.read import MAX_RANGE_S, RecordedFrame, frames_between
from routewatch.replay.frames import FrameError, decode_frames, with_boxes
from routewatch.replay.report import incident_html, safe_name, track_geojson, track_kml
from routewatch.store import Store

Progress = Callable[[int, int], None]
MAX_PAD_S = 3600.0


class ExportError(ValueError):
    """The export cannot be made (unknown alert, bad output directory, bad margins)."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was written: file paths (clip None when there is none, and `note` says why) and the clip's frames."""

    clip: Path | None
    geojson: Path
    kml: Path
    report: Path
    frames: int
    fixes: int
    note: str


def alert_camera(store: Store, alert: Alert) -> str | None:
    """The recorded camera an alert was raised from (its subject is '<camera>/<track>'), if any."""
    camera, sep, _ = alert.subject_id.partition("/")
    return camera if sep and camera in store.recordings.cameras() else None


def corridor_in_force(store: Store, alert: Alert) -> Corridor | None:
    """The corridor version the alert was raised against."""
    for v in store.corridors.history(alert.corridor_id):
        if v.corridor.version == alert.corridor_version:
            return v.corridor
    return None


def out_dir(path: Path) -> Path:
    """The output directory, created; ExportError when it is a file or cannot be made."""
    if path.exists() and not path.is_dir():
        raise ExportError(f"--out {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create --out {path}: {exc.strerror or exc}") from None
    return path


def frame_rate(frames: list[RecordedFrame]) -> float:
    """Frames per second of a run of frames (from the median spacing; 5 for a single frame)."""
    if len(frames) < 2:
        return 5.0
    us = np.array([f.time.timestamp() for f in frames])
    step = float(np.median(np.diff(us)))
    return min(max(1.0 / step, 0.1), 240.0) if step > 0 else 5.0


def write_clip(root: Path, frames: list[RecordedFrame], path: Path, *, boxes: bool,
               progress: Progress | None = None) -> int:
    """Decode `frames` from their segments and write them to an mp4v file; return the frames written."""
    if not frames:
        return 0
    part = path.with_name(path.stem + ".part" + path.suffix)
    writer: cv2.VideoWriter | None = None
    n = 0
    try:
        for frame, image in decode_frames(root, frames):
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(str(part), cv2.VideoWriter.fourcc(*"mp4v"), frame_rate(frames), size)
                if not writer.isOpened():
                    raise ExportError(f"cannot open an mp4v writer for {path}")
            writer.write(with_boxes(image, frame) if boxes else image)
            n += 1
            if progress is not None:
                progress(n, len(frames))
        assert writer is not None
        writer.release()
        writer = None
        part.replace(path)
    finally:
        if writer is not None:
            writer.release()
        part.unlink(missing_ok=True)
    return n


def export_clip(recordings: Path, camera: str, frames: list[RecordedFrame], path: Path, *, boxes: bool,
                progress: Progress | None, empty: str, max_frames: int | None = None) -> tuple[Path | None, int, str]:
    """Write `frames` of `camera` as the clip `path`: (the clip or None, frames written, a note saying which).

    ExportError, before anything is written, when there are more than `max_frames` (when given).
    """
    if not frames:
        return None, 0, empty
    if max_frames is not None and len(frames) > max_frames:
        # Recordings are stream copies at the camera's rate (often 25-30 fps): time alone does not bound a clip.
        raise ExportError(f"the clip would have {len(frames):,} frames, more than the {max_frames:,} an export "
                          "may hold; ask for a shorter time")
    try:
        written = write_clip(recordings, frames, path, boxes=boxes, progress=progress)
    except FrameError as exc:
        raise ExportError(f"cannot read the recording: {exc}") from None
    return path, written, f"{written} frames of camera {camera}" + (" with boxes" if boxes else "")


def export_alert(store: Store, recordings: Path, alert_id: str, out: Path, *, before_s: float = 10.0,
                 after_s: float = 10.0, boxes: bool = True, progress: Progress | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), max_clip_s: float = MAX_RANGE_S,
                 max_frames: int | None = None) -> ExportResult:
    """Write the alert's clip, track (GeoJSON, KML) and HTML report into `out`; ExportError for bad input.

    An alert whose clip would span more than `max_clip_s` gets no clip (the note says so); one of more
    than `max_frames` frames (when given) is an ExportError.
    """
    if not (0 <= before_s <= MAX_PAD_S and 0 <= after_s <= MAX_PAD_S):
        raise ExportError(f"--before and --after must be 0..{MAX_PAD_S:.0f} s")
    alert = store.alerts.get(alert_id)
    if alert is None:
        raise ExportError(f"no alert with id {alert_id!r}")
    directory = out_dir(out)
    base = "alert-" + safe_name(alert.id)
    since = alert.opened_at - timedelta(seconds=before_s)
    until = (alert.closed_at or alert.last_seen) + timedelta(seconds=after_s)
    camera = alert_camera(store, alert)
    clip: Path | None = None
    written = 0
    if camera is None:
        note = "no clip: the alert was not raised from a recorded camera"
    elif (until - since).total_seconds() > (bound := min(max_clip_s, MAX_RANGE_S)):
        longest = f"{bound / 3600:g} h" if bound >= 3600 else f"{bound:g} s"
        note = f"no clip: the alert with its margins spans more than {longest}"
    else:
        clip, written, note = export_clip(recordings, camera, frames_between(store, camera, since, until),
                                          directory / f"{base}.mp4", boxes=boxes, progress=progress,
                                          empty=f"no clip: nothing of camera {camera} was recorded then",
                                          max_frames=max_frames)
    fixes = store.positions.of_subject(alert.subject_id, since, until)
    geojson, kml, report = (directory / f"{base}{ext}" for ext in (".geojson", ".kml", ".html"))
    geojson.write_text(json.dumps(track_geojson(alert.subject_id, fixes)))
    kml.write_text(track_kml(alert.subject_id, fixes))
    snap = store.snapshots.get(alert.id)
    report.write_text(incident_html(alert, events=store.alerts.events(alert.id), fixes=fixes,
                                    corridor=corridor_in_force(store, alert),
                                    snapshot_jpeg=snap.jpeg if snap is not None else None,
                                    clip_name=clip.name if clip is not None else None, clip_note=note,
                                    generated_at=clock()))
    return ExportResult(clip, geojson, kml, report, written, len(fixes), note)
