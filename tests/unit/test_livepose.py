"""The live drone pose track of `run`: interpolation at capture time, never held or extrapolated, bounded,
thread-safe; and the MAVLink side that feeds it (vehicle choice, gimbal messages), on real MAVLink bytes."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymavlink.dialects.v20 import ardupilotmega as dialect

from routewatch.cameras.livepose import LivePoseTrack, PoseFeed
from routewatch.geo.crs import LocalFrame, angle_diff_deg
from routewatch.geo.dronepose import AttitudeSample, Fix, GimbalSample
from routewatch.ingest.mavlink import MavlinkDecoder, TlogWriter
from routewatch.ingest.posefile import read_tlog
from routewatch.model import Pose
from tests.kits.dronelink import tlog_packets

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FRAME = LocalFrame(8.5417, 47.3769)
GAP_S = 0.5


def at_s(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def truth(s: float) -> tuple[float, float, float, float, float]:
    """A drone flying 10 m/s north-east, climbing 1 m/s, turning 10 deg/s, gimbal tilting down 0.1 deg/s: x, y,
    alt, heading, gimbal pitch (all linear in time, so interpolation is exact)."""
    return 7.0 * s, 7.0 * s, 100.0 + s, 40.0 + 10.0 * s, -50.0 - 0.1 * s


def fill(track: LivePoseTrack, times: list[float], *, fixes: bool = True, attitudes: bool = True,
         gimbals: bool = True, phase: float = 0.0) -> None:
    """Samples of the truth at `times` (s); attitude and gimbal shifted by `phase` s."""
    for s in times:
        x, y, alt, _, _ = truth(s)
        lon, lat = FRAME.lonlat(x, y)
        if fixes:
            track.add_fix(Fix(at_s(s), lon, lat, alt))
        sa = s + phase
        _, _, _, heading, gpitch = truth(sa)
        if attitudes:
            track.add_attitude(AttitudeSample(at_s(sa), heading, -5.0, 2.0))
        if gimbals:
            track.add_gimbal(GimbalSample(at_s(sa), 0.0, gpitch, 0.0, "vehicle"))


def check_truth(p: Pose, s: float, *, gimbal: bool = True) -> None:
    x, y, alt, heading, gpitch = truth(s)
    px, py = FRAME.xy(p.lon, p.lat)
    assert math.hypot(px - x, py - y) < 1e-6 and p.alt_m == pytest.approx(alt)
    assert angle_diff_deg(p.heading_deg, heading) < 1e-6
    assert p.gimbal_pitch_deg == (pytest.approx(gpitch) if gimbal else None)
    assert p.time == at_s(s)


TEN_HZ = [k / 10 for k in range(21)]  # 0.0 ... 2.0 s


@pytest.mark.parametrize(("times", "streams", "phase", "query", "placed"), [
    pytest.param(TEN_HZ, {}, 0.0, 0.55, True, id="between-samples-interpolated"),
    pytest.param(TEN_HZ, {}, 0.03, 1.234, True, id="streams-at-their-own-times"),
    pytest.param(TEN_HZ, {}, 0.0, 1.0, True, id="at-a-sample"),
    pytest.param(TEN_HZ, {}, 0.0, 2.0, True, id="at-the-newest-sample"),
    pytest.param(TEN_HZ, {}, 0.0, 2.05, False, id="after-the-newest-never-held"),
    pytest.param(TEN_HZ, {}, 0.0, 2.4, False, id="after-the-newest-never-extrapolated"),
    pytest.param(TEN_HZ, {}, 0.0, -0.05, False, id="before-the-first"),
    pytest.param(TEN_HZ, {}, 0.0, 30.0, False, id="far-away"),
    pytest.param([], {}, 0.0, 1.0, False, id="empty"),
    pytest.param([0.0, 0.1, 0.2, 1.4, 1.5], {}, 0.0, 0.8, False, id="inside-a-gap-wider-than-max-gap"),
    pytest.param([0.0, 0.1, 0.5, 0.6], {}, 0.0, 0.3, True, id="gap-narrower-than-max-gap"),
    pytest.param(TEN_HZ, {"attitudes": False}, 0.0, 0.55, False, id="no-attitude"),
    pytest.param(TEN_HZ, {"fixes": False}, 0.0, 0.55, False, id="no-position"),
    pytest.param(TEN_HZ, {"gimbals": False}, 0.0, 0.55, False, id="no-gimbal-required"),
    pytest.param(TEN_HZ, {"gimbals": False, "require_gimbal": False}, 0.0, 0.55, True,
                 id="no-gimbal-fixed-mount-pose-without-it"),
    pytest.param(TEN_HZ, {}, 0.12, 2.05, False, id="gimbal-and-attitude-ahead-position-not"),
])
def test_pose_at_capture_time(times, streams, phase, query, placed):
    streams = dict(streams)
    track = LivePoseTrack(require_gimbal=streams.pop("require_gimbal", True))
    fill(track, times, phase=phase, **streams)
    p = track.at(at_s(query), GAP_S)
    assert (p is not None) == placed
    if p is not None:
        check_truth(p, query, gimbal=streams.get("gimbals", True))


def test_with_a_fixed_mount_a_gimbal_heard_once_is_required_from_then_on():
    track = LivePoseTrack(require_gimbal=False)
    fill(track, TEN_HZ, gimbals=False)
    assert track.at(at_s(1.55), GAP_S) is not None  # no gimbal: the fixed mount places it
    track.add_gimbal(GimbalSample(at_s(0.0), 0.0, -50.0, 0.0))  # heard at the start only
    assert track.at(at_s(0.0), GAP_S) is not None
    assert track.at(at_s(1.55), GAP_S) is None  # not placed without its gimbal, nor with a stale one


def test_clock_offset_reads_telemetry_at_frame_time_minus_offset():
    # Frames stamped 2 s behind the telemetry clock (drone.time_offset_s: 2 -> clock_offset_s -2).
    track = LivePoseTrack(clock_offset_s=-2.0)
    fill(track, TEN_HZ)
    p = track.at(at_s(1.25 - 2.0), GAP_S)
    assert p is not None and p.time == at_s(-0.75)
    x, y, *_ = truth(1.25)
    assert math.dist(FRAME.xy(p.lon, p.lat), (x, y)) < 1e-6


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"wait_s": -1.0}, "wait_s"),
    ({"wait_s": 61.0}, "wait_s"),
    ({"keep_s": 0.0}, "keep_s"),
    ({"max_samples": 1}, "max_samples"),
    ({"clock_offset_s": 1e6}, "clock_offset_s"),
    ({"clock_offset_s": math.nan}, "clock_offset_s"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LivePoseTrack(**kwargs)


@pytest.mark.parametrize("gap", [0.0, -1.0, math.nan])
def test_bad_gap_is_refused(gap):
    with pytest.raises(ValueError, match="max_gap_s"):
        LivePoseTrack().at(T0, gap)


@pytest.mark.parametrize(("keep_s", "max_samples", "seconds", "hz", "most"), [
    pytest.param(5.0, 20_000, 120.0, 20, 3 * (5 * 20 + 1), id="kept-5-s-behind-the-newest"),
    pytest.param(1000.0, 50, 60.0, 20, 3 * 50, id="at-most-max-samples-a-stream"),
    pytest.param(1000.0, 20_000, 2.0, 10, 3 * 20, id="short-feed-all-kept"),
])
def test_memory_is_bounded(keep_s, max_samples, seconds, hz, most):
    track = LivePoseTrack(keep_s=keep_s, max_samples=max_samples)
    n = int(seconds * hz)
    fill(track, [k / hz for k in range(n)])
    assert len(track) <= most
    dropped = track.counts["pose_samples_expired"] + track.counts["pose_samples_dropped_full"]
    assert len(track) + dropped == 3 * n
    # What is kept is the newest: the last moment still has its pose.
    assert track.at(at_s((n - 1.5) / hz), GAP_S) is not None


def test_done_before_forgets_what_only_earlier_frames_needed():
    track = LivePoseTrack()
    fill(track, [k / 10 for k in range(100)])  # 0 .. 9.9 s
    assert track.done_before(at_s(5.0), GAP_S) == 3 * 35  # older than 5 - 3 x 0.5 s: 0.0 .. 3.4 s
    assert track.at(at_s(5.0), GAP_S) is not None and track.at(at_s(9.0), GAP_S) is not None
    assert track.done_before(at_s(5.0), GAP_S) == 0


class SteppedClock:
    """A wall clock the test sets (the track measures how late a frame is with it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(("late_s", "placed"), [
    pytest.param(0.0, True, id="fresh-frame-waits-for-the-telemetry-after-it"),
    pytest.param(30.0, False, id="frame-already-past-its-wait-does-not-wait"),
])
def test_a_frame_waits_for_telemetry_after_its_capture_time(late_s, placed):
    clock = SteppedClock(at_s(1.05 + late_s))
    track = LivePoseTrack(wait_s=20.0, clock=clock)
    fill(track, TEN_HZ[:11])  # up to 1.0 s; the frame at 1.05 s needs the 1.1 s samples
    got: list[Pose | None] = []
    reader = threading.Thread(target=lambda: got.append(track.at(at_s(1.05), GAP_S)))
    reader.start()
    reader.join(0.2)  # it is waiting (or, when late, done)
    fill(track, [1.1])
    reader.join()
    assert len(got) == 1 and (got[0] is not None) == placed
    if got[0] is not None:
        check_truth(got[0], 1.05)


def test_concurrent_writer_and_reader():
    # The link thread adds 10 Hz telemetry (a little at a time) while the camera thread asks for poses in time
    # order, each frame waiting (its clock says it is fresh) until the telemetry after it has arrived: every
    # one is placed, and what only earlier frames needed is forgotten.
    track = LivePoseTrack(wait_s=60.0, keep_s=1000.0, clock=lambda: T0 - timedelta(days=1))

    def link() -> None:
        for k in range(3000):
            fill(track, [k / 10])
            if k % 20 == 0:
                time.sleep(0.001)  # let the reader catch up and wait

    writer = threading.Thread(target=link)
    writer.start()
    results = []
    for i in range(800):
        s = i * 0.37
        results.append((s, track.at(at_s(s), GAP_S)))
        track.done_before(at_s(s), GAP_S)
    writer.join()
    for s, p in results:
        assert p is not None, s
        check_truth(p, s)
    cut = at_s(results[-1][0]) - timedelta(seconds=3 * GAP_S)
    assert len(track) == 3 * sum(at_s(k / 10) >= cut for k in range(3000))


# -- the MAVLink side, on real MAVLink bytes


def tlog_events(path: Path, feed: PoseFeed) -> None:
    """Decode a tlog as the live link does: packet by packet, received at its record time, through the
    decoder with the feed's taps, each packet's events then through the feed."""
    decoder = MavlinkDecoder("link", taps=feed.taps())
    for t, packet in tlog_packets(path):
        for ev in decoder.feed(packet, t):
            feed.on_event(ev)


def test_live_track_places_frames_as_the_pose_file_does(tmp_path):
    # The rendered drone flight's telemetry: the live track, fed as the link feeds it, against the tlog read
    # as `analyze` reads it. Same poses wherever the live rule (telemetry on both sides) holds.
    from tests.kits import dronescene as scene

    path = scene.telemetry(tmp_path / "flight.tlog")
    feed, track = PoseFeed("link"), LivePoseTrack()
    feed.add("uav", track)
    tlog_events(path, feed)
    file_track = read_tlog(path, max_gap_s=GAP_S).track()
    assert track.home_alt_m == pytest.approx(scene.HOME_ALT_M)
    sample_times = [scene.TELEMETRY_PHASE_S + k / 10 for k in range(-10, int(scene.SECONDS * 10) + 6)
                    if not scene.GAP[0] < scene.TELEMETRY_PHASE_S + k / 10 < scene.GAP[1]]
    compared = 0
    for i in range(-30, int(scene.SECONDS * 100) + 100, 7):
        s = i / 100
        live, file = track.at(scene.T0 + timedelta(seconds=s), GAP_S), file_track.at(
            scene.T0 + timedelta(seconds=s), GAP_S)
        before = [x for x in sample_times if x <= s + 1e-9]
        after = [x for x in sample_times if x >= s - 1e-9]
        bracketed = bool(before and after) and s - before[-1] <= GAP_S + 1e-9 and after[0] - s <= GAP_S + 1e-9
        assert (live is not None) == bracketed, s
        if live is None:
            continue
        assert file is not None
        compared += 1
        assert math.dist(FRAME.xy(live.lon, live.lat), FRAME.xy(file.lon, file.lat)) < 1e-6
        for name in ("alt_m", "pitch_deg", "roll_deg", "gimbal_pitch_deg", "gimbal_yaw_deg", "gimbal_roll_deg"):
            assert getattr(live, name) == pytest.approx(getattr(file, name), abs=1e-6), (s, name)
        assert angle_diff_deg(live.heading_deg, file.heading_deg) < 1e-6
    assert compared > 150


def two_vehicles(t0: datetime, *, mount_first: bool = False) -> TlogWriter:
    """Vehicles 1 (x = 0) then 2 (x = 100 m) at 10 Hz for 3 s, each with attitude and a gimbal; vehicle 2 is heard
    first. With mount_first, vehicle 1 sends MOUNT_STATUS (pitch -30) for 1 s before its gimbal device (-60)."""
    w = TlogWriter(mavlink2=True)
    flags = dialect.GIMBAL_DEVICE_FLAGS_ROLL_LOCK | dialect.GIMBAL_DEVICE_FLAGS_PITCH_LOCK
    q_down60 = [math.cos(math.radians(-30)), 0.0, math.sin(math.radians(-30)), 0.0]  # pitch -60 deg
    for k in range(31):
        t = t0 + timedelta(seconds=k / 10)
        for sysid, x in ((2, 100.0), (1, 0.0)):
            lon, lat = FRAME.lonlat(x, 0.0)
            if k % 10 == 0:
                w.heartbeat(t, sysid)
            w.global_position_int(t, sysid, lat, lon, 500.0 + sysid, 70.0)
            w.attitude(t, sysid, 0.0, 0.0, 10.0 * sysid)
            if sysid == 1 and mount_first and k < 10:
                w.message(t, sysid, dialect.MAVLink_mount_status_message(0, 0, -3000, 0, 0))
            elif not (mount_first and sysid == 1 and k < 10):
                msg = dialect.MAVLink_gimbal_device_attitude_status_message(0, 0, k * 100, flags, q_down60,
                                                                             math.nan, math.nan, math.nan, 0)
                w.message(t, sysid, msg, compid=dialect.MAV_COMP_ID_GIMBAL)
    return w


@pytest.mark.parametrize(("sysid", "x", "heading"), [
    pytest.param(None, 100.0, 20.0, id="unset-follows-the-first-vehicle-heard"),
    pytest.param(1, 0.0, 10.0, id="sysid-1"),
    pytest.param(2, 100.0, 20.0, id="sysid-2"),
])
def test_the_feed_follows_the_cameras_vehicle(sysid, x, heading):
    now = datetime.now(UTC)
    feed, track = PoseFeed("link"), LivePoseTrack()
    feed.add("uav", track, sysid=sysid)
    decoder = MavlinkDecoder("link", taps=feed.taps())
    for t, data in two_vehicles(now).packets():  # stream bytes, as a live link receives them
        for ev in decoder.feed(data, t):
            feed.on_event(ev)
    p = track.at(now + timedelta(seconds=1.55), GAP_S)
    assert p is not None
    assert math.dist(FRAME.xy(p.lon, p.lat), (x, 0.0)) < 0.05 and p.heading_deg == pytest.approx(heading)
    assert p.gimbal_pitch_deg == pytest.approx(-60.0, abs=1e-6)
    assert track.home_alt_m == pytest.approx(500.0 + (2 if x else 1) - 70.0)
    assert feed.counts["pose_other_vehicle"] > 0  # the other vehicle's samples, counted and not used


def test_gimbal_device_replaces_mount_status():
    # As in a pose file: once GIMBAL_DEVICE_ATTITUDE_STATUS is heard, MOUNT_STATUS is not used (nor kept).
    now = datetime.now(UTC)
    feed, track = PoseFeed("link"), LivePoseTrack()
    feed.add("uav", track, sysid=1, mount_status_frame="vehicle")
    decoder = MavlinkDecoder("link", taps=feed.taps())
    packets = two_vehicles(now, mount_first=True).packets()
    mid = next(i for i, (t, _) in enumerate(packets) if t >= now + timedelta(seconds=1.0))
    for t, data in packets[:mid]:
        for ev in decoder.feed(data, t):
            feed.on_event(ev)
    early = track.at(now + timedelta(seconds=0.55), GAP_S)
    assert early is not None and early.gimbal_pitch_deg == pytest.approx(-30.0)
    for t, data in packets[mid:]:
        for ev in decoder.feed(data, t):
            feed.on_event(ev)
    assert track.at(now + timedelta(seconds=0.55), GAP_S) is None  # the mount reports are gone
    late = track.at(now + timedelta(seconds=2.05), GAP_S)
    assert late is not None and late.gimbal_pitch_deg == pytest.approx(-60.0, abs=1e-6)
    assert track.counts["pose_mount_status_replaced"] == 10
