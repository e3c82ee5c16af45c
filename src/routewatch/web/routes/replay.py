"""Replay for commanders: recorded frames by time, the boxes of every frame, positions, and the patrol's map.

Choosing a patrol: the recorded cameras and their extents, the drone sorties cut from stored patrol
fixes; on the map, as time moves: the corridors in force at a time and the cameras' footprints.
Windows are checked alike: a time zone is required, and an empty, reversed or over-6-hour window
is refused (422); an unknown camera is 404; an area is `bbox=minlon,minlat,maxlon,maxlat` (422 if bad).
Answers are bounded whatever is asked (frames, sorties, fixes and footprints read or returned), since this
runs in the process of the live pipeline: past a cap an answer says `truncated`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from shapely.geometry import mapping

from routewatch.geo.bbox import BBox, parse_bbox
from routewatch.geo.corridors import to_geojson
from routewatch.geo.coverage import spans_in_force
from routewatch.geo.footprint import Footprint
from routewatch.model import Alert, Box, Corridor, Observation, Role
from routewatch.recording.evidence import encode_jpeg
from routewatch.recording.read import MAX_RANGE_S, RecordedFrame, frames_between
from routewatch.replay import patrols
from routewatch.replay.frames import FrameError, locate, read_frame, with_boxes
from routewatch.web.deps import (
    AlertsDep,
    Commander,
    CorridorsDep,
    CoverageDep,
    PositionsDep,
    RecordingConfigDep,
    RecordingsDep,
    SettingsDep,
    get_store,
)
from routewatch.web.repos import RecordingRepo
from routewatch.web.schemas import (
    CorridorsAt,
    CorridorSet,
    Footprints,
    ReplayBoxes,
    ReplayCameras,
    ReplayPositions,
    Sorties,
)
from routewatch.web.schemas.replay import ReplayBox, ReplayCamera, ReplayFrame, ReplayPosition, Sortie

router = APIRouter(prefix="/api/replay", tags=["replay"])
Camera = Annotated[str, Query(min_length=1, max_length=64, description="Camera name.")]
From = Annotated[datetime, Query(alias="from", description="Window start, ISO 8601 with a time zone.")]
To = Annotated[datetime, Query(alias="to", description="Window end, ISO 8601 with a time zone.")]
Area = Annotated[str | None, Query(max_length=200, description="Only what lies in minlon,minlat,maxlon,maxlat.")]
MAX_SORTIE_FIXES = 200_000  # patrol fixes read for sorties (6 h of one drone at 10 Hz is 216,000)
MAX_SORTIES = 500  # sorties per answer, the earliest (a short gap can make a sortie of nearly every fix)
# Frames per /boxes answer, the oldest (6 h of a stream-copied camera at 30 fps is 648,000): ask on from `next`.
MAX_BOX_FRAMES = 20_000
MAX_FOOTPRINTS = 2000  # footprint rows per answer (a drone camera's samples: ask again from the last one)
# Cameras are matched for the first sorties only, each from the first footprints over its span.
MATCHED_SORTIES, SORTIE_FOOTPRINTS = 50, 500
# A microsecond: "in force at t" is "overlapping [t, t + 1 us)".
_INSTANT = timedelta(microseconds=1)
MAX_RAISED_ALERTS = 10_000  # alerts of a window whose corridors are looked up


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


def _area(bbox: str | None) -> BBox | None:
    if bbox is None:
        return None
    try:
        return parse_bbox(bbox)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _fix(f: Observation) -> ReplayPosition:
    return ReplayPosition(subject_id=f.subject_id, time=f.time.isoformat(), lon=f.lon, lat=f.lat, alt_m=f.alt_m,
                          subject_class=f.subject_class, role=f.role.value, heading_deg=f.heading_deg,
                          speed_m_s=f.speed_m_s, source=f.source)


class Recorded(Protocol):
    """The store as reading recorded frames back sees it (`locate`, `frames_between`): the recorded segments."""

    @property
    def recordings(self) -> RecordingRepo: ...


RecordedDep = Annotated[Recorded, Depends(get_store)]


def _known(recordings: RecordingRepo, camera: str) -> None:
    if camera not in recordings.cameras():
        raise HTTPException(404, f"nothing recorded for camera {camera!r}")


def _box(b: Box) -> ReplayBox:
    return ReplayBox(track=b.track, cls=b.cls, conf=b.conf, x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2)


@router.get("/frame", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "The frame; X-Frame-Time is its time."},
                       404: {"description": "unknown camera, or nothing recorded then"}})
async def frame(store: RecordedDep, recording: RecordingConfigDep, _: Commander, camera: Camera,
                t: Annotated[datetime, Query(description="Time, ISO 8601 with a time zone.")],
                boxes: bool = False) -> Response:
    """The recorded frame of `camera` shown at `t` (JPEG), with the stored boxes drawn when `boxes`."""
    at = _aware(t, "t")
    if recording is None:
        raise HTTPException(404, "recording is not configured for this server")
    root = recording.dir
    _known(store.recordings, camera)

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


def frames_part(store: Recorded, camera: str, since: datetime, until: datetime,
                cap: int) -> tuple[list[RecordedFrame], datetime | None]:
    """The oldest `cap` recorded frames of `camera` in [since, until], and the time to ask on from (None: no more).

    Segments are read a few at a time (by their frame counts) until past the cap, so a long window of a
    fast camera costs about what the answer holds. Frames of one instant are not split between two parts,
    so asking on from that time repeats none; that time is before `until` (frames left at `until` itself
    come in this answer, as a window may not be empty); over `cap` frames at one instant: the rest of it
    is skipped.
    """
    segments = store.recordings.segments(camera, since, until)  # without their frame logs: cheap
    out: list[RecordedFrame] = []
    lo, i = since, 0
    while i < len(segments) and len(out) <= cap:
        j, count, hi = i, 0, lo
        while j < len(segments) and count <= cap - len(out):  # enough segments to pass the cap, if they can
            count += segments[j].frames
            hi = max(hi, segments[j].end)
            j += 1
        hi = min(hi, until)
        if hi >= lo:
            out.extend(frames_between(store, camera, lo, hi))
        lo, i = hi + _INSTANT, j
    out.sort(key=lambda f: f.time)  # (stable: in segment order, unless segments overlap)
    if len(out) <= cap:
        return out, None
    cut = cap
    while cut > 0 and out[cut - 1].time == out[cut].time:
        cut -= 1
    if cut == 0:
        after = out[cap].time + _INSTANT
        return out[:cap], after if after <= until else None
    if out[cut].time >= until:
        return out[:cut] + out[cut:cut + cap], None
    return out[:cut], out[cut].time


@router.get("/boxes", responses={404: {"description": "unknown camera"}})
async def frame_boxes(store: RecordedDep, _: Commander, camera: Camera, start: From, end: To,
                      limit: Annotated[int | None, Query(ge=1, le=MAX_BOX_FRAMES, description=(
                          "At most this many frames (and at most the server's cap)."))] = None) -> ReplayBoxes:
    """The recorded frames of `camera` in the window, oldest first: each one's time and tracked boxes (full-frame
    pixels). At most MAX_BOX_FRAMES (or `limit`): then `truncated`, and `next` is the time of the first frame
    left out, to ask again from (`from=next`, the same `to`)."""
    since, until = window(start, end)
    _known(store.recordings, camera)
    cap = min(limit or MAX_BOX_FRAMES, MAX_BOX_FRAMES)
    frames, after = await run_in_threadpool(frames_part, store, camera, since, until, cap)
    return ReplayBoxes(camera=camera, truncated=after is not None, next=after.isoformat() if after else None,
                       frames=[ReplayFrame(time=f.time.isoformat(), boxes=[_box(b) for b in f.boxes]) for f in frames])


@router.get("/positions")
async def positions(positions: PositionsDep, settings: SettingsDep, _: Commander, start: From, end: To,
                    subject: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
                    bbox: Area = None) -> ReplayPositions:
    """Stored positions with time in [from, to) (of one subject, or all; in `bbox`, or anywhere), oldest first;
    `truncated` past the cap."""
    since, until = window(start, end)
    area = _area(bbox)
    cap = settings.max_replay_positions

    def load() -> tuple[list[Any], bool]:
        if area is not None:  # filtered in the query, so the cap counts only fixes inside
            got = positions.between(since, until, bbox=area.as_tuple(), subject=subject, limit=cap + 1)
            return got[:cap], len(got) > cap
        if subject is not None:
            got = positions.of_subject(subject, since, until)
            return got[:cap], len(got) > cap
        out: list[Any] = []
        for chunk in positions.stream(since, until, batch=min(cap + 1, 20_000)):
            out.extend(chunk)
            if len(out) > cap:
                return out[:cap], True
        return out, False

    fixes, truncated = await run_in_threadpool(load)
    return ReplayPositions(truncated=truncated, positions=[_fix(f) for f in fixes])


@router.get("/cameras")
async def cameras(recordings: RecordingsDep, _: Commander, start: Annotated[datetime | None, Query(
                      alias="from", description="Window start (with `to`): only segments overlapping it.")] = None,
                  end: Annotated[datetime | None, Query(alias="to", description="Window end.")] = None,
                  ) -> ReplayCameras:
    """Recorded cameras with their first and last frame time, segment and frame counts (in the window, if given)."""
    if (start is None) != (end is None):
        raise HTTPException(422, "give both 'from' and 'to', or neither")
    since, until = window(start, end) if start is not None and end is not None else (None, None)
    extents = await run_in_threadpool(recordings.extents, since, until)
    return ReplayCameras(cameras=[ReplayCamera(camera=e.camera, first=e.first.isoformat(), last=e.last.isoformat(),
                                               segments=e.segments, frames=e.frames) for e in extents])


def _sortie(s: patrols.Sortie, footprints: list[Footprint] | None, spans: patrols.Recorded) -> Sortie:
    """A sortie's answer; `footprints` None: its cameras were not checked (past MATCHED_SORTIES)."""
    follow = patrols.following(s, footprints or [])
    recorded = patrols.recorded_during(spans, s.start, s.end)
    return Sortie(drone=s.drone, subject_class=s.subject_class, start=s.start.isoformat(), end=s.end.isoformat(),
                  fixes=s.count, bbox=s.bbox.as_tuple(), cameras_checked=footprints is not None,
                  following=list(follow), seen_by=list(patrols.seen_by(s, footprints or [])),
                  recorded=list(recorded), camera=patrols.pick_camera(follow, recorded))


@router.get("/sorties")
async def sorties(positions: PositionsDep, recordings: RecordingsDep, coverage: CoverageDep, _: Commander,
                  start: From, end: To, bbox: Area = None,
                  gap_s: Annotated[float, Query(ge=1, le=3600, description="A longer gap (s) between two fixes "
                                                "of a patrol asset ends its sortie.")] = 120.0) -> Sorties:
    """Sorties of patrol assets (runs of one's stored fixes with no gap over `gap_s`) in the window, by start.

    Each: its drone, time span, fix count and box; `following` (drone cameras whose footprints lay near
    it), `seen_by` (fixed cameras that had it in view), `recorded` (cameras recorded while it flew) and
    `camera` (the one to replay it with, or null). With `bbox`, only sorties with a fix inside. At most
    MAX_SORTIE_FIXES fixes (the oldest) are read, and at most MAX_SORTIES sorties (the earliest) answered:
    `truncated` when either cut something off; cameras are checked for the first MATCHED_SORTIES sorties
    (`cameras_checked`), each from at most SORTIE_FOOTPRINTS footprints over its span (`footprints_truncated`
    when one had more). `gap_s` is 1 s to 1 h: a shorter one would make a sortie of nearly every fix.
    """
    since, until = window(start, end)
    area = _area(bbox)

    def load() -> Sorties:
        fixes = positions.between(since, until, role=Role.PATROL, limit=MAX_SORTIE_FIXES + 1)
        spans = patrols.Recorded.of(recordings.spans(since, until))
        found = patrols.sorties(fixes[:MAX_SORTIE_FIXES], timedelta(seconds=gap_s))
        if area is not None:
            found = [s for s in found if s.touches(area)]
        more = len(fixes) > MAX_SORTIE_FIXES or len(found) > MAX_SORTIES
        found = found[:MAX_SORTIES]
        # Per sortie, so a sortie late in a long window is matched as well as an early one.
        over = [coverage.footprints_between(s.start, s.end + _INSTANT, limit=SORTIE_FOOTPRINTS + 1)
                for s in found[:MATCHED_SORTIES]]
        return Sorties(gap_s=gap_s, truncated=more,
                       footprints_truncated=any(len(f) > SORTIE_FOOTPRINTS for f in over),
                       sorties=[_sortie(s, over[i][:SORTIE_FOOTPRINTS] if i < len(over) else None, spans)
                                for i, s in enumerate(found)])

    return await run_in_threadpool(load)


@router.get("/corridors")
async def corridors(corridors: CorridorsDep, alerts: AlertsDep, _: Commander,
                    t: Annotated[datetime, Query(description="Time, ISO 8601 with a time zone.")],
                    start: Annotated[datetime | None, Query(alias="from", description="With `to`: the window "
                                                            "replayed, whose alerts' corridors come in `raised`.")]
                    = None,
                    end: Annotated[datetime | None, Query(alias="to", description="Window end (with `from`).")]
                    = None) -> CorridorsAt:
    """The corridors in force at `t` (each id's newest version saved at or before it; deleted ones left out).

    A GeoJSON FeatureCollection (properties id, version, kind, name, ...), with `since` and `until`: the
    saves around `t` between which this set holds (null: none before / none after), so a player asks again
    only when its time leaves [since, until). With a window (`from`, `to`), `raised` holds the versions
    that alerts opened in it were raised against where another version (or none) is in force at `t`:
    footage analysed after the fact was judged by corridors saved later than it was filmed.
    """
    at = _aware(t, "t")
    if (start is None) != (end is None):
        raise HTTPException(422, "give both 'from' and 'to', or neither")
    span = window(start, end) if start is not None and end is not None else None

    def load() -> tuple[list[tuple[Corridor, datetime, bool]], list[Alert]]:
        versions = corridors.versions()
        opened = alerts.find(since=span[0], until=span[1], limit=MAX_RAISED_ALERTS) if span else []
        return versions, opened

    versions, opened = await run_in_threadpool(load)
    in_force = [s.corridor for s in spans_in_force(versions, at, at + _INSTANT)]
    saves = sorted({saved for _, saved, _ in versions})
    before = [x for x in saves if x <= at]
    after = [x for x in saves if x > at]
    shown = {(c.id, c.version) for c in in_force}
    by_key = {(c.id, c.version): c for c, _, _ in versions}
    raised = [by_key[k] for k in sorted({(a.corridor_id, a.corridor_version) for a in opened} - shown)
              if k in by_key]
    return CorridorsAt(type="FeatureCollection", features=_features(in_force).features, t=at.isoformat(),
                       since=before[-1].isoformat() if before else None,
                       until=after[0].isoformat() if after else None, raised=_features(raised).features)


def _features(corridors: list[Corridor]) -> CorridorSet:
    collection = CorridorSet.model_validate(to_geojson(corridors))
    for f, c in zip(collection.features, corridors, strict=True):
        f.properties["name"] = c.name
    return collection


@router.get("/footprints", responses={404: {"description": "unknown camera"}})
async def footprints(coverage: CoverageDep, recordings: RecordingsDep, _: Commander, start: From, end: To,
                     camera: Annotated[str | None, Query(min_length=1, max_length=64)] = None) -> Footprints:
    """Camera footprints overlapping the window (of one camera, or all), by start: a GeoJSON FeatureCollection
    of polygons with camera, kind, start and end (exclusive). At most MAX_FOOTPRINTS: `truncated` then (ask
    again from the last one's start)."""
    since, until = window(start, end)

    def load() -> list[Footprint]:
        known = camera is None or camera in coverage.footprint_cameras() or camera in recordings.cameras()
        if not known:
            raise HTTPException(404, f"no footprints or recordings of camera {camera!r}")
        return coverage.footprints_between(since, until, limit=MAX_FOOTPRINTS + 1, camera=camera)

    rows = await run_in_threadpool(load)
    truncated = len(rows) > MAX_FOOTPRINTS
    return Footprints.model_validate({"type": "FeatureCollection", "truncated": truncated, "features": [
        {"type": "Feature", "geometry": mapping(fp.polygon),
         "properties": {"camera": fp.camera, "kind": fp.kind, "start": fp.start.isoformat(),
                        "end": fp.end.isoformat()}} for fp in rows[:MAX_FOOTPRINTS]]})
