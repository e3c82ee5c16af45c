"""Observations carry their uncertainty: accuracy_m of fixed cameras, drone cameras and GPS, per sensor."""

from __future__ import annotations

import doctest
import itertools
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from routewatch.cameras.drone import PoseRaycast
from routewatch.cameras.fixed import Homography
from routewatch.config.cameras import CameraConfig, DetectorConfig, DroneConfig
from routewatch.config.sources import SourceConfig
from routewatch.geo import accuracy, homography
from routewatch.geo.accuracy import raycast_accuracy_m
from routewatch.geo.camera import CameraPose, Pinhole, ground_offset_m, ray_ned
from routewatch.geo.crs import LocalFrame
from routewatch.geo.dronepose import AttitudeSample, Fix, merge
from routewatch.geo.homography import Calibration, GroundControlPoint
from routewatch.geo.poseinterp import PoseTrack
from routewatch.ingest.mavlink import MavlinkDecoder, TlogWriter, decode
from routewatch.ingest.mavlink.decode import DEFAULT_GPS_UERE_M, gps_accuracy_m
from routewatch.ingest.video import Frame
from routewatch.model import Box, Observation, Pose

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LON0, LAT0 = 149.16, -35.36
FRAME = LocalFrame(LON0, LAT0)


@pytest.mark.parametrize("module", [accuracy, homography, decode])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# --- fixed cameras ----------------------------------------------------------------------------

# A pole camera 15 m up, heading 30 degrees, looking 12 degrees down; its horizon is at v ~ 187 px.
POLE = CameraPose(LAT0, LON0, 15.0, heading_deg=30.0, el_deg=-12.0)
LENS = Pinhole.from_fov(1920, 1080, 60.0)
# GCPs surveyed with a few decimetres of error (deterministic), so the fit has a residual.
SURVEY_ERR_M = [(0.3, -0.2), (-0.25, 0.35), (0.1, 0.3), (-0.3, -0.1)]


def _pole_gcps() -> list[GroundControlPoint]:
    gcps = []
    for i, (u, v) in enumerate((u, v) for v in (400, 600, 800, 1000) for u in (200, 960, 1720)):
        ground = LENS.to_ground(POLE, u, v, 0.0)
        assert ground is not None
        x, y = FRAME.xy(*ground)
        dx, dy = SURVEY_ERR_M[i % len(SURVEY_ERR_M)]
        gcps.append(GroundControlPoint(u, v, *FRAME.lonlat(x + dx, y + dy)))
    return gcps


POLE_CAL = Calibration.from_gcps(_pole_gcps())


def _true_footprint_m(u: float, v: float) -> float:
    """The pinhole's own ground size of pixel (u, v): the longer of its two ground steps."""
    pts = [LENS.to_ground(POLE, a, b, 0.0) for a, b in ((u, v), (u + 1, v), (u, v + 1))]
    assert all(p is not None for p in pts)
    xy = [FRAME.xy(*p) for p in pts if p is not None]
    return max(math.dist(xy[0], xy[1]), math.dist(xy[0], xy[2]))


@pytest.mark.parametrize("u", [200.0, 960.0, 1720.0])
def test_a_fixed_camera_is_surest_near_itself_and_never_better_than_its_residual(u):
    # Bottom of the image (a few metres out) up to just under the horizon (kilometres out).
    vs = [1070.0, 900.0, 700.0, 500.0, 350.0, 250.0, 200.0]
    sigmas = [POLE_CAL.accuracy_m(u, v) for v in vs]
    assert all(s is not None for s in sigmas)
    got = [s for s in sigmas if s is not None]
    assert POLE_CAL.rms_error_m > 0.1  # the survey errors show in the fit
    assert all(s >= POLE_CAL.rms_error_m for s in got)
    assert all(near < far for near, far in itertools.pairwise(got)), got
    assert got[-1] > 10 * got[0]  # towards the horizon one pixel spans metres


@pytest.mark.parametrize(("u", "v"), [(960.0, 1000.0), (300.0, 800.0), (1500.0, 600.0), (960.0, 450.0)])
def test_the_fitted_pixel_footprint_is_the_cameras_own(u, v):
    assert POLE_CAL.pixel_ground_m(u, v) == pytest.approx(_true_footprint_m(u, v), rel=0.05)


@pytest.mark.parametrize(("u", "v"), [(960.0, 150.0), (960.0, 0.0), (100.0, -500.0)])
def test_on_or_above_the_horizon_there_is_no_accuracy(u, v):
    assert POLE_CAL.to_ground(u, v) is None or POLE_CAL.pixel_ground_m(u, v) is None
    assert POLE_CAL.accuracy_m(u, v) is None


# A known homography, by hand: x = 0.1 u / w, y = 0.1 v / w with w = 1 + 0.001 v (metres of FRAME).
H_HAND = (0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.001, 1.0)


def _hand_calibration() -> Calibration:
    gcps = []
    for u, v in ((0, 0), (100, 0), (100, 100), (0, 100)):
        w = 1.0 + 0.001 * v
        gcps.append(GroundControlPoint(u, v, *FRAME.lonlat(0.1 * u / w, 0.1 * v / w)))
    return Calibration(tuple(gcps), H_HAND, LON0, LAT0)


HAND = _hand_calibration()


@pytest.mark.parametrize(("u", "v", "footprint"), [
    (0.0, 0.0, 0.1),  # (1, 0) -> (0.1, 0); (0, 1) -> (0, 0.1 / 1.001)
    (0.0, 1000.0, 0.05),  # w = 2: (1, 1000) -> (0.05, 50); (0, 1001) -> (0, 100.1 / 2.001) = 0.02499 m up
    (500.0, 1000.0, 0.05),  # (501, 1000) -> 0.05 east; (500, 1001) moves hypot(0.0125, 0.02499) = 0.0279
    (0.0, -500.0, 100.0 - 49.9 / 0.501),  # w = 0.5: (1, -500) steps 0.2 east; (0, -499) -> y -99.6008: 0.3992
    (0.0, -1000.0, None),  # w = 0: the horizon
    (0.0, -2000.0, None),  # behind the camera
])
def test_pixel_footprint_of_a_known_homography_by_hand(u, v, footprint):
    got = HAND.pixel_ground_m(u, v)
    if footprint is None:
        assert got is None and HAND.accuracy_m(u, v) is None
        return
    assert got == pytest.approx(footprint, rel=1e-4)
    # Exact GCPs: no residual, so sigma is the box's pixel error on the ground.
    assert HAND.rms_error_m < 1e-6
    assert HAND.accuracy_m(u, v, pixel_error_px=2.0) == pytest.approx(2.0 * footprint, rel=1e-4)
    assert HAND.accuracy_m(u, v, pixel_error_px=0.0) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_a_negative_or_unknown_pixel_error_is_refused(bad):
    with pytest.raises(ValueError, match="pixel_error_px must be a non-negative number"):
        HAND.accuracy_m(0.0, 0.0, pixel_error_px=bad)


@pytest.mark.parametrize(("boxes", "want"), [
    ([], []),
    ([Box(900, 950, 1020, 1000, track="1")], [POLE_CAL.accuracy_m(960, 1000, 3.0)]),
    ([Box(900, 300, 1020, 450, track="1"), Box(100, 100, 150, 150, track="2")],  # the second is sky
     [POLE_CAL.accuracy_m(960, 450, 3.0)]),
])
def test_a_fixed_cameras_observations_carry_the_calibrations_accuracy(boxes, want):
    counts: Counter[str] = Counter()
    place = Homography(POLE_CAL, counts, pixel_error_px=3.0).place
    got = [p.accuracy_m for p in place(boxes, 0.0)]
    assert got == pytest.approx(want)
    assert all(a is not None and a > POLE_CAL.rms_error_m for a in got)
    assert counts["not_on_ground"] == len(boxes) - len(want)


# --- drone cameras ----------------------------------------------------------------------------


def _down_pose(off_nadir_deg: float, alt_m: float = 100.0, az_deg: float = 0.0) -> CameraPose:
    return CameraPose(LAT0, LON0, alt_m, az_deg=az_deg, el_deg=off_nadir_deg - 90.0)


@pytest.mark.parametrize(("ray", "height", "pos", "ang", "want"), [
    ((0.0, 0.0, 1.0), 100.0, 0.0, 1.0, 100.0 * math.radians(1.0)),  # straight down: range x angle
    ((0.5, 0.0, math.sqrt(0.75)), 100.0, 0.0, 1.0, 100.0 / 0.75 * math.radians(1.0)),  # 30 deg off nadir
    ((math.sqrt(0.75), 0.0, 0.5), 100.0, 0.0, 1.0, 400.0 * math.radians(1.0)),  # 60 deg off: R 200 / sin 30
    ((0.0, 0.0, 1.0), 100.0, 3.0, 1.0, math.hypot(3.0, 100.0 * math.radians(1.0))),  # plus the GPS error
    ((0.0, 0.0, 1.0), 100.0, 3.0, 0.0, 3.0),
    ((0.0, 0.0, 2.0), 50.0, 0.0, 2.0, 50.0 * math.radians(2.0)),  # the ray need not be a unit vector
    ((1.0, 0.0, 0.0), 100.0, 3.0, 1.0, None),  # level: never meets the ground
    ((0.0, 0.6, -0.8), 100.0, 3.0, 1.0, None),  # looking up
    ((0.0, 0.0, 1.0), 0.0, 3.0, 1.0, None),  # on the ground
    ((0.0, 0.0, 1.0), -5.0, 3.0, 1.0, None),  # below it
    ((0.0, 0.0, 0.0), 100.0, 3.0, 1.0, None),  # no direction at all
])
def test_raycast_accuracy_by_hand(ray, height, pos, ang, want):
    got = raycast_accuracy_m(ray, height, pos, ang)
    assert got == (None if want is None else pytest.approx(want, rel=1e-9))


@pytest.mark.parametrize(("pos", "ang"), [(-1.0, 1.0), (1.0, -0.1), (math.nan, 1.0), (1.0, math.inf)])
def test_raycast_accuracy_refuses_negative_or_unknown_errors(pos, ang):
    with pytest.raises(ValueError, match="must be a non-negative number"):
        raycast_accuracy_m((0.0, 0.0, 1.0), 100.0, pos, ang)


def test_a_drone_looking_60_degrees_off_nadir_is_less_sure_than_straight_down():
    down = raycast_accuracy_m(ray_ned(_down_pose(0.0)), 100.0, 2.0, 1.0)
    slant = raycast_accuracy_m(ray_ned(_down_pose(60.0)), 100.0, 2.0, 1.0)
    assert down is not None and slant is not None
    assert down == pytest.approx(math.hypot(2.0, 1.745), abs=1e-3)
    assert slant == pytest.approx(math.hypot(2.0, 6.981), abs=1e-3)


@pytest.mark.parametrize("off_nadir", [0.0, 20.0, 45.0, 60.0, 75.0, 85.0])
@pytest.mark.parametrize("az", [0.0, 137.0])
def test_the_closed_form_is_the_ray_cast_perturbed_by_the_angle(off_nadir, az):
    """Cast the ray with its depression changed by +-sigma; half the ground step is the closed form."""
    sigma = 0.01  # degrees: small, so that the first-order form holds
    pose = _down_pose(off_nadir, az_deg=az)
    steps = []
    for sign in (1.0, -1.0):
        tilted = CameraPose(LAT0, LON0, 100.0, az_deg=az, el_deg=pose.el_deg + sign * sigma)
        steps.append(ground_offset_m(tilted, ray_ned(tilted), 0.0))
    assert steps[0] is not None and steps[1] is not None
    along = math.dist(steps[0], steps[1]) / 2.0
    closed = raycast_accuracy_m(ray_ned(pose), 100.0, 0.0, sigma)
    assert closed == pytest.approx(along, rel=2e-3)
    # Across the line of sight (azimuth turned so the ray moves by sigma) the step is smaller or equal.
    depression = math.radians(90.0 - off_nadir)
    turn = sigma / math.cos(depression) if off_nadir > 0 else 0.0
    if turn:
        side = CameraPose(LAT0, LON0, 100.0, az_deg=az + turn, el_deg=pose.el_deg)
        a, b = ground_offset_m(pose, ray_ned(pose), 0.0), ground_offset_m(side, ray_ned(side), 0.0)
        assert a is not None and b is not None
        assert math.dist(a, b) <= closed * (1 + 1e-6)


DRONE = DroneConfig(hfov_deg=90.0, ground_alt_m=0.0, position_error_m=5.0, angle_error_deg=1.0)


def _drone_pose(gimbal_pitch: float, accuracy_m: float | None) -> Pose:
    return Pose(T0, LON0, LAT0, 100.0, 0.0, 0.0, 0.0, gimbal_pitch, 0.0, 0.0, accuracy_m=accuracy_m)


@pytest.mark.parametrize(("gimbal_pitch", "gps", "pixel_px", "want_pos", "off_nadir"), [
    (-90.0, 1.5, 0.0, 1.5, 0.0),  # the pose's own GPS accuracy
    (-90.0, None, 0.0, 5.0, 0.0),  # none: drone.position_error_m
    (-30.0, None, 0.0, 5.0, 60.0),  # 60 degrees off nadir
    (-90.0, None, 4.0, 5.0, 0.0),  # the box's pixel error adds to the pointing error
])
def test_a_drone_cameras_observations_carry_the_pose_error(gimbal_pitch, gps, pixel_px, want_pos, off_nadir):
    cam = CameraConfig(name="uav", kind="drone", drone=DRONE, pixel_error_px=pixel_px,
                       detector=DetectorConfig(model="given.pt"))  # ids from the detector: no ground tracker
    pose = _drone_pose(gimbal_pitch, gps)
    georef = PoseRaycast(cam, lambda t, gap: pose, lambda: 0.0, Counter())
    place = georef.view(Frame("uav", 0, T0, np.zeros((480, 640, 3), np.uint8)))
    assert place is not None
    (placed,) = place([Box(300, 200, 340, 240, track="7")], 0.0)  # bottom centre: the image centre
    fy = 320.0  # 90 degrees across 640 px; square pixels
    angle = math.hypot(1.0, math.degrees(pixel_px / fy))
    slant = 100.0 / math.cos(math.radians(off_nadir))
    along = slant * math.radians(angle) / math.cos(math.radians(off_nadir))
    assert placed.accuracy_m == pytest.approx(math.hypot(want_pos, along), rel=1e-6)


def test_motion_tracked_drone_detections_keep_their_accuracy():
    cam = CameraConfig(name="uav", kind="drone", drone=DRONE, pixel_error_px=0.0)  # no model: motion blobs
    pose = _drone_pose(-90.0, 2.0)
    georef = PoseRaycast(cam, lambda t, gap: pose, lambda: 0.0, Counter())
    out = []
    for i in range(6):
        place = georef.view(Frame("uav", i, T0 + timedelta(seconds=i), np.zeros((480, 640, 3), np.uint8)))
        assert place is not None
        out += place([Box(300 + 2 * i, 200, 340 + 2 * i, 240)], float(i))
    assert out, "the ground tracker confirmed the blob"
    assert all(p.box.track is not None for p in out)
    assert all(p.accuracy_m == pytest.approx(math.hypot(2.0, 100.0 * math.radians(1.0)), rel=0.01) for p in out)


# --- GPS (MAVLink) ----------------------------------------------------------------------------


@pytest.mark.parametrize(("eph", "h_acc_mm", "uere", "want"), [
    (228, 0, 4.0, 9.12),  # HDOP 2.28 x UERE 4 m
    (100, 0, 3.0, 3.0),
    (228, 1500, 4.0, 1.5),  # h_acc (mm) wins when sent
    (65535, 2500, 4.0, 2.5),
    (65535, 0, 4.0, None),  # neither known
    (0, 0, 4.0, None),
    (65535, 0xFFFFFFFF, 4.0, None),
])
def test_gps_accuracy_from_fix_quality(eph, h_acc_mm, uere, want):
    got = gps_accuracy_m(eph, h_acc_mm, uere)
    assert got == (None if want is None else pytest.approx(want))


def test_the_decoders_default_uere_is_the_settings_default():
    assert SourceConfig(name="s", url="x.tlog").gps_uere_m == DEFAULT_GPS_UERE_M


@pytest.mark.parametrize(("mavlink2", "eph", "h_acc_mm", "uere", "want"), [
    (False, 228, 0, 4.0, [None, 9.12, 9.12]),  # before any GPS_RAW_INT: unknown
    (True, 228, 1500, 4.0, [None, 1.5, 1.5]),
    (True, 150, 0, 5.0, [None, 7.5, 7.5]),
    (True, 65535, 0, 5.0, [None, None, None]),
])
def test_positions_take_the_newest_gps_raw_int_of_their_system(mavlink2, eph, h_acc_mm, uere, want):
    w = TlogWriter(mavlink2)
    w.heartbeat(T0, 1)
    w.global_position_int(T0 + timedelta(seconds=1), 1, LAT0, LON0, 600.0)
    w.gps_raw_int(T0 + timedelta(seconds=2), 1, 3, LAT0, LON0, 600.0, eph=eph, h_acc_mm=h_acc_mm)
    w.global_position_int(T0 + timedelta(seconds=3), 1, LAT0, LON0, 600.0)
    w.heartbeat(T0 + timedelta(seconds=3), 2)  # another vehicle's fix quality is not this one's
    w.gps_raw_int(T0 + timedelta(seconds=4), 2, 3, LAT0, LON0, 600.0, eph=9000)
    w.global_position_int(T0 + timedelta(seconds=5), 1, LAT0, LON0, 600.0)
    dec = MavlinkDecoder("src", gps_uere_m=uere)
    obs = [e for e in dec.feed_tlog(w.tlog_bytes(), final=True) if isinstance(e, Observation)]
    assert [o.accuracy_m for o in obs] == [None if a is None else pytest.approx(a) for a in want]


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_a_decoder_refuses_a_uere_that_is_no_distance(bad):
    with pytest.raises(ValueError, match="gps_uere_m must be a positive number"):
        MavlinkDecoder("src", gps_uere_m=bad)


@pytest.mark.parametrize(("accs", "want", "quarter"), [
    ([2.0, 4.0], [2.0, 3.0, 4.0], 2.5),  # interpolated between fixes, and between poses
    ([None, 4.0], [None, None, 4.0], None),  # known at one end only: not guessed
    ([None, None], [None, None, None], None),
])
def test_drone_poses_carry_the_gps_accuracy_of_their_fixes(accs, want, quarter):
    fixes = [Fix(T0 + timedelta(seconds=s), LON0, LAT0, 100.0, a) for s, a in zip((0, 1), accs, strict=True)]
    poses, _ = merge(fixes, [AttitudeSample(T0 + timedelta(seconds=0.5), 0.0, 0.0, 0.0)])
    assert [p.accuracy_m for p in poses] == want
    mid = PoseTrack(poses).at(T0 + timedelta(seconds=0.25))
    assert mid is not None
    assert mid.accuracy_m == (None if quarter is None else pytest.approx(quarter))
