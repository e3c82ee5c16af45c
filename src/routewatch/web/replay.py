"""Replay for commanders: recorded frames by time, the boxes of every frame, and positions, over a window.

Windows are checked alike: a time zone is required, and an empty, reversed or over-6-hour window
is refused (422); an unknown camera is 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from routewatch.evidence import TrackBox, encode_jpeg
from routewatch.recording.read import MAX_RANGE_S, frames_between
from routewatch.replay.frames import FrameError, locate, read_frame, with_boxes
from routewatch.web.security import Perm, Principal, require
from routewatch.web.settings import WebSettings, WebStore

router = APIRouter(prefix="/api/replay", tags=["replay"])
Commander = Annotated[Principal, Depends(require(Perm.REPLAY))]
Camera = Annotated[str, Query(min_length=1, max_length=64, description="Camera name.")]
From = Annotated[datetime, Query(alias="from", description="Window start, ISO 8601 with a time zone.")]
To = Annotated[datetime, Query(alias="to", description="Window end, ISO 8601 with a time zone.")]


def _aware(t: datetime, name: str) -> datetime:
    if t.utcoffset() is None:
        raise HTTPException(422, f"{name}: {t.isoformat()} has no time zone (add Z for UTC)")
    return t


def window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A checked [start, end] window; HTTPException 422 when empty, reversed, over 6 h or zone-less."""
    start, end = _aware(start, "from"), _aware(end, "to")
    if end < start:
        raise HTTPException(422, f"window is reversed: {start.isoformat()} .. {end.isoformat()}")
    if end == start:
        raise HTTPException(422, "window is empty: 'from' equals 'to'")
    if end - start > timedelta(seconds=MAX_RANGE_S):
        raise HTTPException(422, f"window longer than {MAX_RANGE_S / 3600:.0f} h; ask for less")
    return start, end


def _known(store: WebStore, camera: str) -> None:
    if camera not in store.recording_cameras():
        raise HTTPException(404, f"nothing recorded for camera {camera!r}")


def _box(b: TrackBox) -> dict[str, Any]:
    return {"track": b.track, "cls": b.cls, "conf": b.conf, "x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2}


@router.get("/frame", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "The frame; X-Frame-Time is its time."},
                       404: {"description": "unknown camera, or nothing recorded then"}})
async def frame(request: Request, _: Commander, camera: Camera,
                t: Annotated[datetime, Query(description="Time, ISO 8601 with a time zone.")],
                boxes: bool = False) -> Response:
    """The recorded frame of `camera` shown at `t` (JPEG), with the stored boxes drawn when `boxes`."""
    store: WebStore = request.app.state.store
    settings: WebSettings = request.app.state.settings
    at = _aware(t, "t")
    root = settings.recordings_dir
    if root is None:
        raise HTTPException(404, "recording is not configured for this server")
    _known(store, camera)

    def load() -> tuple[bytes, datetime] | None:
        found = locate(store, camera, at)
        if found is None:
            return None
        image = read_frame(Path(root), found.path, found.index)
        return encode_jpeg(with_boxes(image, found) if boxes else image, quality=85), found.time

    try:
        got = await run_in_threadpool(load)
    except FrameError as exc:
        raise HTTPException(404, f"recorded frame unavailable: {exc}") from None
    if got is None:
        raise HTTPException(404, f"nothing of camera {camera!r} was recorded at {at.isoformat()}")
    jpeg, time = got
    return Response(jpeg, media_type="image/jpeg",
                    headers={"X-Frame-Time": time.isoformat(), "Cache-Control": "private, max-age=3600"})


@router.get("/boxes", responses={404: {"description": "unknown camera"}})
async def frame_boxes(request: Request, _: Commander, camera: Camera, start: From, end: To) -> dict[str, Any]:
    """Every recorded frame of `camera` in the window: its time and its tracked boxes (full-frame pixels)."""
    store: WebStore = request.app.state.store
    since, until = window(start, end)
    _known(store, camera)
    frames = await run_in_threadpool(frames_between, store, camera, since, until)
    return {"camera": camera, "frames": [{"time": f.time.isoformat(), "boxes": [_box(b) for b in f.boxes]}
                                         for f in frames]}


@router.get("/positions")
async def positions(request: Request, _: Commander, start: From, end: To,
                    subject: Annotated[str | None, Query(min_length=1, max_length=128)] = None) -> dict[str, Any]:
    """Stored positions with time in [from, to) (of one subject, or all), oldest first; `truncated` past the cap."""
    store: WebStore = request.app.state.store
    settings: WebSettings = request.app.state.settings
    since, until = window(start, end)
    cap = settings.max_replay_positions

    def load() -> tuple[list[Any], bool]:
        if subject is not None:
            got = store.positions(subject, since, until)
            return got[:cap], len(got) > cap
        out: list[Any] = []
        for chunk in store.iter_positions(since, until, batch=min(cap + 1, 20_000)):
            out.extend(chunk)
            if len(out) > cap:
                return out[:cap], True
        return out, False

    fixes, truncated = await run_in_threadpool(load)
    return {"truncated": truncated, "positions": [
        {"subject_id": f.subject_id, "time": f.time.isoformat(), "lon": f.lon, "lat": f.lat, "alt_m": f.alt_m,
         "class": f.subject_class, "role": f.role.value, "heading_deg": f.heading_deg, "speed_m_s": f.speed_m_s}
        for f in fixes]}
