"""Live drone pose for `run`: a MAVLink link's telemetry, read by a drone camera at each frame's capture time.

    MAVLink link thread --PoseFeed--> LivePoseTrack (bounded, locked) <--at(t)-- camera processing thread

On the link's thread, the PoseFeed takes the positions and attitudes the decoder makes (already
vetted: vehicles only, with a GPS fix) and the raw gimbal payloads (decoder taps:
GIMBAL_DEVICE_ATTITUDE_STATUS, else MOUNT_STATUS, read as a pose file reads them) and adds those
of the camera's vehicle to the camera's LivePoseTrack. At a frame, the track merges the samples
around the frame's time with geo.dronepose.merge and interpolates with geo.poseinterp.PoseTrack,
the code a pose file goes through, so a live frame is placed as `analyze` places it from a tlog
of the same link.

Clock: telemetry samples carry their arrival time on this machine (as a tlog's record times do),
not the vehicle's clock; frames carry their capture time (the stream's read time, or the time in
an MQTT frame message, which must come from a clock synchronised with this machine's).
`drone.time_offset_s` is added to a frame's time to read the telemetry (e.g. a known video delay).

A live frame is placed only between two samples of each stream within `max_pose_gap_s` of it (or
at a sample). It may wait up to `pose_wait_s` past its capture time for the telemetry after it;
a pose is never held past the newest sample nor extrapolated: such frames are `no_pose`. Memory
is bounded: samples older than the frames still to come need, or KEEP_S behind the newest, are
dropped, and each stream holds at most `max_samples`.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from routewatch.cameras.footprints import DroneFootprints
from routewatch.cameras.framecache import FrameCache
from routewatch.config.cameras import CameraConfig, camera_source
from routewatch.geo.dronepose import AttitudeSample, Fix, GimbalFrame, GimbalSample, merge
from routewatch.geo.poseinterp import PoseTrack
from routewatch.ingest.mavlink.decode import GIMBAL_DEVICE_ATTITUDE_STATUS, GLOBAL_POSITION_INT, MOUNT_STATUS
from routewatch.ingest.mavlink.frame import Handler
from routewatch.ingest.posefile import gimbal_device_id, gimbal_device_sample, home_alt_m, mount_status_sample
from routewatch.ingest.video import Frame
from routewatch.model import Attitude, Observation, Pose, Role, TelemetryEvent
from routewatch.recording.recorder import FrameRecorder

log = logging.getLogger(__name__)

KEEP_S = 30.0  # telemetry kept behind the newest sample, for frames that arrive late (video delay)
MAX_SAMPLES = 20_000  # per stream: minutes of 50 Hz attitude, whatever the link sends
HOME_SAMPLES = 50
WINDOW_GAPS = 3  # samples within 3 gaps of a frame decide its pose (see LivePoseTrack.at)

S = TypeVar("S", Fix, AttitudeSample, GimbalSample)


def utc_now() -> datetime:
    """This machine's clock, the one live telemetry and live frames are timed by."""
    return datetime.now(UTC)


class _Stream(Generic[S]):
    """Samples of one kind in time order (arrivals are in order; a late one is inserted)."""

    __slots__ = ("items", "times")

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.items: list[S] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: S) -> None:
        if not self.times or item.time >= self.times[-1]:
            self.times.append(item.time)
            self.items.append(item)
            return
        i = bisect.bisect_right(self.times, item.time)
        self.times.insert(i, item.time)
        self.items.insert(i, item)

    def drop_before(self, t: datetime) -> int:
        i = bisect.bisect_left(self.times, t)
        del self.times[:i], self.items[:i]
        return i

    def trim(self, n: int) -> int:
        extra = len(self.items) - n
        if extra <= 0:
            return 0
        del self.times[:extra], self.items[:extra]
        return extra

    def clear(self) -> None:
        self.times.clear()
        self.items.clear()

    def newest(self) -> datetime | None:
        return self.times[-1] if self.times else None

    def window(self, lo: datetime, hi: datetime) -> list[S]:
        return self.items[bisect.bisect_left(self.times, lo):bisect.bisect_right(self.times, hi)]

    def brackets(self, t: datetime, gap: timedelta) -> bool:
        """A sample at t, or one within `gap` before it and one within `gap` after it."""
        i = bisect.bisect_left(self.times, t)
        if i < len(self.times) and self.times[i] == t:
            return True
        return 0 < i < len(self.times) and t - self.times[i - 1] <= gap and self.times[i] - t <= gap


class LivePoseTrack:
    """One drone's live telemetry (position, attitude, gimbal, home altitude), read at frame times; thread-safe.

    `clock_offset_s`: frame clock minus telemetry clock (at(t) reads the telemetry at
    t - clock_offset_s). `wait_s`: how long past its capture time (by `clock`) a frame may wait
    for the telemetry after it. `require_gimbal`: no pose without gimbal angles (a camera with no
    fixed mount); else they are used once heard. The reader is one camera thread, the writer one
    link thread.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> track = LivePoseTrack(require_gimbal=False)
    >>> for s in (0, 1):
    ...     track.add_fix(Fix(t0 + timedelta(seconds=s), 7.0, 45.0, 100.0 + 10 * s))
    ...     track.add_attitude(AttitudeSample(t0 + timedelta(seconds=s), 90.0, 0.0, 0.0))
    >>> track.at(t0 + timedelta(seconds=0.5), 1.0).alt_m
    105.0
    >>> track.at(t0 + timedelta(seconds=1.2), 1.0) is None  # after the newest sample: never held
    True
    """

    def __init__(self, *, clock_offset_s: float = 0.0, wait_s: float = 0.0, keep_s: float = KEEP_S,
                 max_samples: int = MAX_SAMPLES, require_gimbal: bool = True,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if not -86_400.0 <= clock_offset_s <= 86_400.0:
            raise ValueError(f"clock_offset_s must be within a day, got {clock_offset_s}")
        if not 0.0 <= wait_s <= 60.0:
            raise ValueError(f"wait_s must be in [0, 60] s, got {wait_s}")
        if not keep_s > 0.0:
            raise ValueError(f"keep_s must be > 0, got {keep_s}")
        if max_samples < 2:
            raise ValueError(f"max_samples must be at least 2, got {max_samples}")
        self.offset = timedelta(seconds=clock_offset_s)
        self.wait_s, self.max_samples, self.clock = wait_s, max_samples, clock
        self.keep = timedelta(seconds=keep_s)
        self.counts: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._fixes: _Stream[Fix] = _Stream()
        self._atts: _Stream[AttitudeSample] = _Stream()
        self._gimbals: _Stream[GimbalSample] = _Stream()
        self._gimbal_seen = require_gimbal
        self._gimbal_device = False
        self._homes: deque[float] = deque(maxlen=HOME_SAMPLES)
        self._newest: datetime | None = None
        # One interpolator, refilled at each frame: a new one would build a new local projection each time.
        self._interp = PoseTrack()
        self._interp_lock = threading.Lock()

    def __len__(self) -> int:
        """Samples held, all streams together."""
        with self._cond:
            return len(self._fixes) + len(self._atts) + len(self._gimbals)

    # -- writer side (the link's thread)

    def add_fix(self, fix: Fix) -> None:
        """A vehicle position (MAVLink: GLOBAL_POSITION_INT, AMSL altitude)."""
        self._add(self._fixes, fix)

    def add_attitude(self, att: AttitudeSample) -> None:
        """A vehicle attitude (MAVLink: ATTITUDE)."""
        self._add(self._atts, att)

    def add_gimbal(self, g: GimbalSample, *, device: bool = True) -> None:
        """A gimbal attitude: GIMBAL_DEVICE_ATTITUDE_STATUS (`device`), else MOUNT_STATUS (until a device is heard)."""
        with self._cond:
            if device and not self._gimbal_device:
                self._gimbal_device = True
                self.counts["pose_mount_status_replaced"] += len(self._gimbals)
                self._gimbals.clear()  # as in a pose file: the gimbal device's own report wins
            elif not device and self._gimbal_device:
                self.counts["pose_mount_status_ignored"] += 1
                return
            self._gimbal_seen = True
        self._add(self._gimbals, g)

    def add_home(self, alt_m: float) -> None:
        """A home altitude (GLOBAL_POSITION_INT alt minus relative_alt), for `ground_alt_m: home`."""
        with self._cond:
            self._homes.append(alt_m)

    def _add(self, stream: _Stream[S], item: S) -> None:
        with self._cond:
            stream.add(item)
            if self._newest is None or item.time > self._newest:
                self._newest = item.time
                cut = self._newest - self.keep
                self.counts["pose_samples_expired"] += sum(s.drop_before(cut) for s in self._streams())
            self.counts["pose_samples_dropped_full"] += stream.trim(self.max_samples)
            self._cond.notify_all()

    # -- reader side (the camera's thread)

    @property
    def home_alt_m(self) -> float | None:
        """The median of the recent home altitudes; None before any."""
        with self._cond:
            return statistics.median(self._homes) if self._homes else None

    def at(self, t: datetime, max_gap_s: float) -> Pose | None:
        """The pose at frame time t, or None unless every stream has samples within max_gap_s on both sides.

        Waits (up to wait_s past t by the clock) for telemetry after t. The result's `time` is t.
        """
        if not max_gap_s > 0.0:
            raise ValueError(f"max_gap_s must be > 0, got {max_gap_s}")
        tv, gap = t - self.offset, timedelta(seconds=max_gap_s)
        with self._cond:
            if self.wait_s > 0.0 and not self._covered(tv):
                late = (self.clock() - tv).total_seconds()
                deadline = time.monotonic() + min(self.wait_s, self.wait_s - late)
                while not self._covered(tv):
                    left = deadline - time.monotonic()
                    if left <= 0.0:
                        break
                    self._cond.wait(left)
            if not (self._fixes.brackets(tv, gap) and self._atts.brackets(tv, gap)
                    and (not self._gimbal_seen or self._gimbals.brackets(tv, gap))):
                return None
            # Knots within a gap of t take values from samples within two gaps; a gimbal sample there is
            # turned into the vehicle frame by the attitude within a gap of it: three gaps in all.
            lo, hi = tv - WINDOW_GAPS * gap, tv + WINDOW_GAPS * gap
            fixes, atts, gimbals = self._fixes.window(lo, hi), self._atts.window(lo, hi), self._gimbals.window(lo, hi)
        poses, _ = merge(fixes, atts, gimbals, max_gap_s=max_gap_s)
        with self._interp_lock:
            self._interp.drop_before(tv + timedelta(days=1))  # all of the last frame's (within 3 gaps of it)
            self._interp.extend(poses)
            pose = self._interp.at(tv, max_gap_s)
        return dataclasses.replace(pose, time=t) if pose is not None else None

    def done_before(self, t: datetime, max_gap_s: float) -> int:
        """No frame before time t will be asked for: forget what only such frames needed; returns how many."""
        cut = t - self.offset - WINDOW_GAPS * timedelta(seconds=max_gap_s)
        with self._cond:
            return sum(s.drop_before(cut) for s in self._streams())

    def _covered(self, tv: datetime) -> bool:
        """Every stream in use has telemetry at or after tv."""
        streams = self._streams() if self._gimbal_seen else (self._fixes, self._atts)
        return all((n := s.newest()) is not None and n >= tv for s in streams)

    def _streams(self) -> tuple[_Stream[Fix], _Stream[AttitudeSample], _Stream[GimbalSample]]:
        return self._fixes, self._atts, self._gimbals


@dataclass
class _Camera:
    name: str
    track: LivePoseTrack
    sysid: int | None
    mount_status_frame: GimbalFrame
    warned: bool = False


class PoseFeed:
    """One live MAVLink source's telemetry into the LivePoseTracks of the drone cameras it poses (link thread only).

    A camera follows `sysid`, or, unset, the first vehicle the link hears; other vehicles are counted
    (`pose_other_vehicle`) and a warning says to set drone.sysid.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.counts: Counter[str] = Counter()
        self._cameras: list[_Camera] = []
        self._gimbal_ids: dict[int, tuple[int, int]] = {}

    @property
    def cameras(self) -> list[str]:
        """The cameras this source poses."""
        return [c.name for c in self._cameras]

    def add(self, camera: str, track: LivePoseTrack, *, sysid: int | None = None,
            mount_status_frame: GimbalFrame = "body") -> None:
        """Pose `camera` from this source's vehicle `sysid` (None: the first vehicle heard)."""
        self._cameras.append(_Camera(camera, track, sysid, mount_status_frame))

    def taps(self) -> dict[int, Handler]:
        """Decoder taps for the raw payloads the model events leave out: gimbal attitude and home altitude."""
        return {GIMBAL_DEVICE_ATTITUDE_STATUS: self._gimbal_device, MOUNT_STATUS: self._mount_status,
                GLOBAL_POSITION_INT: self._position}

    def wrap(self, emit: Callable[[TelemetryEvent], None]) -> Callable[[TelemetryEvent], None]:
        """The link's event callback: events feed the pose tracks, then go on to `emit` unchanged."""
        def both(ev: TelemetryEvent) -> None:
            self.on_event(ev)
            emit(ev)

        return both

    def on_event(self, ev: TelemetryEvent) -> None:
        """A decoded event: a vehicle position (with altitude) or attitude becomes a pose sample."""
        if isinstance(ev, Observation):
            if ev.role is not Role.PATROL or ev.alt_m is None:
                return
            sample: Fix | AttitudeSample = Fix(ev.time, ev.lon, ev.lat, ev.alt_m, ev.accuracy_m)
        elif isinstance(ev, Attitude):
            sample = AttitudeSample(ev.time, ev.yaw_deg, ev.pitch_deg, ev.roll_deg)
        else:
            return
        sysid = _sysid(ev.subject_id)
        if sysid is None:
            return
        for cam in self._following(sysid, adopt=True):
            if isinstance(sample, Fix):
                cam.track.add_fix(sample)
            else:
                cam.track.add_attitude(sample)

    def _following(self, sysid: int, *, adopt: bool = False) -> list[_Camera]:
        out = []
        for cam in self._cameras:
            if cam.sysid is None and adopt:
                cam.sysid = sysid  # decoder-vetted vehicles only reach here (positions, attitudes)
                log.info("camera %s: posed by vehicle %d of source %s (the first one heard)", cam.name, sysid,
                         self.source)
            if cam.sysid == sysid:
                out.append(cam)
            elif cam.sysid is not None and adopt:
                self.counts["pose_other_vehicle"] += 1
                if not cam.warned:
                    cam.warned = True
                    log.warning("camera %s: source %s also carries vehicle %d; the camera follows vehicle %d "
                                "(set drone.sysid to choose)", cam.name, self.source, sysid, cam.sysid)
        return out

    def _gimbal_device(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        cams = self._following(sysid)
        if not cams:
            return
        # The first gimbal heard is the camera's; a second one on the same vehicle is not mixed in.
        if self._gimbal_ids.setdefault(sysid, gimbal_device_id(compid, v)) != gimbal_device_id(compid, v):
            self.counts["pose_other_gimbal"] += 1
            return
        sample = gimbal_device_sample(t, v)
        if sample is None:
            self.counts["pose_invalid_gimbal"] += 1
            return
        for cam in cams:
            cam.track.add_gimbal(sample, device=True)

    def _mount_status(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        for cam in self._following(sysid):
            sample = mount_status_sample(t, v, cam.mount_status_frame)
            if sample is None:
                self.counts["pose_invalid_gimbal"] += 1
                return
            cam.track.add_gimbal(sample, device=False)

    def _position(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        home = home_alt_m(v)
        if home is None:
            return
        for cam in self._following(sysid):
            cam.track.add_home(home)


def _sysid(subject_id: str) -> int | None:
    """The system id in a decoder subject id `<source>/<sysid>`."""
    tail = subject_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def live_poses(cameras: Iterable[CameraConfig]) -> tuple[dict[str, PoseFeed], dict[str, LivePoseTrack]]:
    """The pose feed of each source named by a live drone camera's `drone.pose_source`, and each camera's track.

    Settings validation has checked that every such source is a live MAVLink link.
    """
    feeds: dict[str, PoseFeed] = {}
    tracks: dict[str, LivePoseTrack] = {}
    for cam in cameras:
        d = cam.drone
        if cam.kind != "drone" or cam.url is None or camera_source(cam.url) == "file" or d.pose_source is None:
            continue
        # Kept long enough for the widest window a frame reads (three gaps each side) and its wait.
        keep_s = max(KEEP_S, 2 * WINDOW_GAPS * d.max_pose_gap_s + d.pose_wait_s)
        track = tracks[cam.name] = LivePoseTrack(clock_offset_s=-d.time_offset_s, wait_s=d.pose_wait_s,
                                                 keep_s=keep_s, require_gimbal=d.fixed_mount_deg is None)
        feeds.setdefault(d.pose_source, PoseFeed(d.pose_source)).add(
            cam.name, track, sysid=d.sysid, mount_status_frame=d.mount_status_frame)
    return feeds, tracks


def live_tracker(cam: CameraConfig, track: LivePoseTrack, counts: Counter[str], cache: FrameCache | None = None,
                 footprints: DroneFootprints | None = None, record: FrameRecorder | None = None,
                 ) -> Callable[[Iterator[Frame]], Iterator[Observation]]:
    """The vision path of a live drone camera: frames (in time order) placed from its live pose track
    (with `footprints`, each frame's ground footprint recorded; with `record`, each processed frame)."""
    from routewatch.cameras.drone import DroneVision

    d = cam.drone
    vision = DroneVision(cam)

    def ground() -> float | None:
        return track.home_alt_m if d.ground_alt_m == "home" else float(d.ground_alt_m)

    posed: list[bool] = []  # whether the last frame had a pose: changes are logged, not every frame

    def pose_at(t: datetime, max_gap_s: float) -> Pose | None:
        pose = track.at(t, max_gap_s)
        track.done_before(t, max_gap_s)  # frames come in time order: older telemetry is not needed again
        if not posed or posed[-1] != (pose is not None):
            if pose is None:
                log.warning("camera %s: no drone pose from %s at %s (no telemetry within drone.max_pose_gap_s "
                            "on both sides): frames are counted no_pose until it comes", cam.name, d.pose_source,
                            t.isoformat())
            else:
                log.info("camera %s: drone pose from %s at %s", cam.name, d.pose_source, t.isoformat())
            posed[:] = [pose is not None]
        return pose

    def run(frames: Iterator[Frame]) -> Iterator[Observation]:
        return vision.track_frames(frames, pose_at, ground, counts, sample=False, cache=cache, footprints=footprints,
                                   record=record)

    return run
