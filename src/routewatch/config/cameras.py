"""Cameras, fixed and drone: source, motion gate, detector, evidence, coverage, pose."""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from routewatch.config.base import Section
from routewatch.config.recording import CameraRecordingConfig
from routewatch.config.redact import redact_url


class MotionConfig(Section):
    """Motion gate of a fixed camera."""

    width: int = Field(320, ge=64, le=1920, description="Frames are shrunk to this width for motion detection.")
    min_area_frac: float = Field(
        0.0005, gt=0, lt=1, description="Smallest moving region, as a fraction of the (shrunk) frame."
    )
    warmup_frames: int = Field(10, ge=0, le=10000, description="Frames used to learn the background first.")
    lighting_frac: float = Field(
        0.8, gt=0, le=1, description="A change over more than this share of the frame at once is lighting, not motion: "
        "no region, the background is relearned."
    )


class DetectorConfig(Section):
    """An Ultralytics YOLO model for a camera (needs the `detect` extra); without one, motion alone makes tracks."""

    model: str | None = Field(
        None, description="Model path (.pt, ONNX, OpenVINO dir, TFLite) or hub name such as yolo11n.pt (downloads)."
    )
    classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"],
        description="Class names kept (COCO models also see boats and suitcases from above: leave those out).",
    )
    conf: float = Field(0.35, gt=0, lt=1, description="Minimum detection confidence.")
    tracker: Literal["bytetrack.yaml", "botsort.yaml"] = Field(
        "bytetrack.yaml", description="Ultralytics tracker (BoT-SORT adds camera-motion compensation)."
    )
    gate: bool = Field(
        True, description="Run the detector only on frames with motion or live tracks (fixed cameras)."
    )


class EvidenceConfig(Section):
    """JPEG snapshots (the frame with the box drawn) kept with alerts raised from a camera's tracks."""

    enabled: bool = Field(True, description="Store a snapshot when an alert opens on one of this camera's tracks.")
    jpeg_quality: int = Field(85, ge=10, le=100, description="JPEG quality of snapshots (lowered to fit max_bytes).")
    max_bytes: int = Field(
        1_000_000, ge=10_000, le=20_000_000, description="Largest snapshot; one that cannot fit is skipped and counted."
    )
    cache_frames: int = Field(
        50, ge=1, le=10_000,
        description="Recent frames with tracks kept per camera for snapshots (memory: frames x width x height x 3).",
    )
    cache_s: float = Field(10.0, gt=0, le=3600, description="Recent frames are kept at most this long (video time).")
    cache_mb: float = Field(256.0, gt=0, le=65_536,
                            description="Most memory the cached frames of this camera may hold (MiB); oldest go first.")


class CameraCoverageConfig(Section):
    """Where on the ground a camera looks, recorded while it runs, so `routewatch coverage` can tell when
    each corridor was in some camera's view."""

    enabled: bool = Field(True, description="Record this camera's ground footprint over time.")
    max_range_m: float = Field(
        1000.0, gt=0, le=50_000,
        description="The footprint ends this far from the nearest ground in view (fixed) or from the point below "
        "the drone: rays near the horizon meet the ground arbitrarily far away.",
    )
    max_gap_s: float = Field(
        2.0, gt=0, le=3600,
        description="No processed frame for this long (and two frame periods) ends a covered interval.",
    )
    sample_s: float = Field(
        5.0, gt=0, le=3600, description="Drone cameras: a new footprint sample at least this often (event time)."
    )
    move_m: float = Field(
        10.0, gt=0, le=10_000,
        description="Drone cameras: a new footprint sample when the footprint has moved this far (metres).",
    )


CAMERA_STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")


def camera_source(url: str) -> Literal["file", "stream", "device", "mqtt"]:
    """What a camera url names; ValueError with the accepted forms if it is none of them.

    >>> camera_source("rtsp://10.0.0.5:554/main"), camera_source("0"), camera_source("gate.mp4")
    ('stream', 'device', 'file')
    """
    forms = ("a video file path (or file:PATH), rtsp://, rtsps://, http:// or https:// URL with a host, "
             "a device number 0-99, or mqtt")
    text = url.strip()
    if text != url or not text:
        raise ValueError(f"camera url {redact_url(url)!r} is empty or has surrounding spaces; use {forms}")
    if text == "mqtt":
        return "mqtt"
    if text.isdigit():
        if int(text) > 99:
            raise ValueError(f"device number {text} is out of range 0-99")
        return "device"
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() not in CAMERA_STREAM_SCHEMES:
            raise ValueError(f"unsupported camera url scheme {scheme!r}; use {forms}")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        if not host or any(c.isspace() for c in rest):
            raise ValueError(f"camera url {redact_url(url)!r} needs a host and no spaces, e.g. rtsp://10.0.0.5:554/stream")
        return "stream"
    if text.startswith("file:"):
        if not text.removeprefix("file:"):
            raise ValueError("file: needs a path")
        return "file"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        raise ValueError(f"unsupported camera url {redact_url(url)!r}; use {forms}")
    return "file"


class DroneConfig(Section):
    """A camera on a drone (kind: drone): each frame is placed on the ground from the drone's pose at its time."""

    hfov_deg: float | None = Field(
        None, gt=0, lt=180,
        description="Horizontal field of view in degrees; unset: the pose file's own (KLV tag 16) or `intrinsics`.",
    )
    vfov_deg: float | None = Field(
        None, gt=0, lt=180, description="Vertical field of view; unset: from hfov_deg and the frame's aspect ratio."
    )
    intrinsics: tuple[float, float, float, float] | None = Field(
        None, description="[fx, fy, cx, cy] in pixels of an undistorted image; overrides the fields of view."
    )
    ground_alt_m: float | Literal["home"] = Field(
        "home", description="Altitude of the (flat) ground in metres, in the pose's datum (MAVLink AMSL, KLV MSL); "
        "`home`: the tlog's home altitude (GLOBAL_POSITION_INT alt minus relative_alt).",
    )
    pose_file: Path | None = Field(
        None, description="The drone's telemetry, a .tlog or a MISB ST 0601 KLV stream; unset: VIDEO.tlog, "
        "STEM.tlog, VIDEO.klv or STEM.klv beside each video.",
    )
    max_pose_gap_s: float = Field(
        1.0, gt=0, le=60, description="A frame without pose samples this close on each side is counted `no_pose` "
        "and not georeferenced.",
    )
    max_range_m: float = Field(
        3000.0, gt=0, le=100_000, description="Detections whose ground point is further than this from the drone "
        "(just below the horizon a pixel spans kilometres) are counted `not_on_ground`, not placed.",
    )
    position_error_m: float = Field(
        5.0, ge=0, le=1000, description="The drone's horizontal position error (one sigma, metres) where its "
        "telemetry gives none (KLV; a tlog without GPS_RAW_INT): one part of each detection's accuracy_m.",
    )
    angle_error_deg: float = Field(
        1.0, ge=0, le=30, description="Pointing error of the line of sight (one sigma, degrees: attitude and gimbal "
        "together); times the slant range, grown by 1/sin of the depression angle, it gives a detection's accuracy_m.",
    )
    time_offset_s: float = Field(
        0.0, ge=-86_400, le=86_400, description="Seconds added to frame times to read the pose file (fine alignment)."
    )
    start_time_clock: Literal["receiver", "vehicle"] = Field(
        "receiver", description="Clock of start_time for a .tlog: `receiver` (its record times) or `vehicle` "
        "(the autopilot's UTC, from SYSTEM_TIME), e.g. a GPS-timed camera. KLV times are the sensor's own.",
    )
    sysid: int | None = Field(
        None, ge=1, le=255, description="MAVLink system id of the drone if the tlog (or the live `pose_source`) "
        "carries several; unset on a live link: the first vehicle heard.",
    )
    pose_source: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Live drone cameras in `run`: name of the live MAVLink source (in `sources`) that carries the "
        "drone's position, attitude and gimbal; its telemetry is timed on arrival, frames by capture time.",
    )
    pose_wait_s: float = Field(
        0.5, ge=0, le=10, description="Live drone cameras: how long past its capture time a frame may wait for "
        "telemetry after it, so its pose is interpolated (never held or extrapolated); then it is `no_pose`.",
    )
    mount_status_frame: Literal["body", "vehicle"] = Field(
        "body", description="How MOUNT_STATUS angles are read when there is no GIMBAL_DEVICE_ATTITUDE_STATUS: `body` "
        "(relative to the airframe, servo mounts) or `vehicle` (pitch/roll to the horizon, yaw to the heading).",
    )
    fixed_mount_deg: tuple[float, float, float] | None = Field(
        None, description="[yaw, pitch, roll] of a camera fixed to the airframe, for pose files without gimbal angles."
    )
    motion_threshold: int = Field(
        25, ge=1, le=255, description="No model: grey-level difference from the motion-compensated background "
        "that counts as moving.",
    )
    motion_history_s: float = Field(
        4.0, gt=0, le=60, description="No model: span of past frames, registered onto the current one, whose "
        "median is the background (longer than a target takes to pass its own length).",
    )

    @field_validator("intrinsics")
    @classmethod
    def _intrinsics(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if v is not None and not (all(math.isfinite(x) for x in v) and v[0] > 0 and v[1] > 0):
            raise ValueError("needs [fx, fy, cx, cy] with positive, finite focal lengths in pixels")
        return v

    @field_validator("fixed_mount_deg")
    @classmethod
    def _mount(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is not None and not (all(math.isfinite(x) for x in v) and abs(v[1]) <= 90 and abs(v[2]) <= 180):
            raise ValueError("needs [yaw, pitch, roll] in degrees, pitch within +-90 and roll within +-180")
        return v

    @field_validator("ground_alt_m")
    @classmethod
    def _ground(cls, v: float | str) -> float | str:
        if isinstance(v, float) and not -1000.0 <= v <= 9000.0:
            raise ValueError("needs metres between -1000 and 9000, or `home`")
        return v


class CameraConfig(Section):
    """One camera: where its pixels are on the ground, and how to process its video."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
                      description="Camera name; subjects become <name>/<track id>. Letters, digits, '_', '-' and "
                      "'.', not first: it names the camera's recordings directory.")
    kind: Literal["fixed", "drone"] = Field(
        "fixed", description="fixed: a homography from ground control points; drone: the drone's pose per frame."
    )
    start_time: datetime | None = Field(
        None, description="Wall time of a recorded file's first frame (RFC 3339 with zone); frame times follow it."
    )
    gcps: list[tuple[float, float, float, float]] = Field(
        default_factory=list,
        description="Fixed cameras: ground control points [u_px, v_px, lon, lat], at least four, not collinear.",
    )
    max_error_m: float = Field(2.0, gt=0, le=100, description="Refuse a calibration whose GCP error is larger.")
    image_size: tuple[int, int] | None = Field(
        None, description="Fixed cameras: [width_px, height_px] of the image; pixel detections (bbox_px on MQTT) "
        "reaching outside it are refused (dead letters). Unset: only the ground check below applies.",
    )
    pixel_error_px: float = Field(
        2.0, ge=0, le=100,
        description="How many pixels a box's bottom centre may be off (one sigma). Fixed cameras: times the ground "
        "size of a pixel there, with the calibration's residual, it gives a detection's accuracy_m; drone cameras "
        "add it to drone.angle_error_deg.",
    )
    ground_margin_m: float = Field(
        100.0, ge=0, le=10000,
        description="Fixed cameras: pixel detections are placed only within this many metres of the area the GCPs "
        "span (their convex hull); further out the calibration is unchecked extrapolation, and near the horizon "
        "a pixel spans kilometres, so such detections are refused (dead letters).",
    )
    fps: float = Field(
        5.0, gt=0, le=120,
        description="Frames per second processed (others are skipped); drone cameras detect on every one, full frame.",
    )
    url: str | None = Field(
        None, description="For `run`: a video file (path or file:PATH), a live stream (rtsp://, rtsps://, http://, "
        "https://), a capture device number (0, 1, ...), or `mqtt` for JPEG frames on routewatch/v1/frames/<name>.",
    )
    queue_frames: int = Field(
        8, ge=1, le=1000,
        description="Live cameras: frames waiting between capture and processing; when full the oldest is "
        "dropped (counted), so a slow pipeline costs frames, never memory.",
    )
    stale_s: float = Field(
        10.0, gt=0, le=3600,
        description="Live streams: no frame for this long marks the camera stale (logged, counted) and the "
        "stream is reopened; also the open and read timeout.",
    )
    reopen_s: float = Field(
        1.0, gt=0, le=600, description="Live streams: first wait before reopening a dropped stream."
    )
    reopen_max_s: float = Field(
        30.0, gt=0, le=3600, description="Live streams: the wait doubles after each failed reopen, up to this."
    )
    realtime: bool = Field(False, description="Replay a video file at its recorded speed (`run`).")
    speed: float = Field(1.0, gt=0, le=1000, description="Replay speed factor when realtime is on.")
    motion: MotionConfig = Field(default_factory=MotionConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    recording: CameraRecordingConfig = Field(default_factory=CameraRecordingConfig)
    coverage: CameraCoverageConfig = Field(default_factory=CameraCoverageConfig)
    drone: DroneConfig = Field(default_factory=DroneConfig)

    @field_validator("start_time")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-05-01T12:00:00Z")
        return v

    @field_validator("image_size")
    @classmethod
    def _image_size(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not (0 < v[0] <= 65535 and 0 < v[1] <= 65535):
            raise ValueError("needs [width_px, height_px], each 1 to 65535")
        return v

    @field_validator("url")
    @classmethod
    def _camera_url(cls, v: str | None) -> str | None:
        if v is not None:
            camera_source(v)
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> CameraConfig:
        if self.kind == "fixed":
            if len(self.gcps) < 4:
                raise ValueError("gcps: a fixed camera needs at least four ground control points "
                                 "[u_px, v_px, lon, lat]")
            if self.drone != DroneConfig():  # defaults are fine: a dumped fixed camera reads back
                raise ValueError("drone: these settings are for `kind: drone` cameras")
        elif self.gcps:
            raise ValueError("gcps: a drone camera (kind: drone) is placed by its pose, not by ground control points")
        return self

    @model_validator(mode="after")
    def _copy_source(self) -> CameraConfig:
        # Stream copy keeps encoded packets: MQTT JPEG frames and capture devices give only decoded pixels.
        if self.recording.mode == "copy" and self.url is not None:
            kind = camera_source(self.url)
            if kind in ("mqtt", "device"):
                what = "JPEG frames from MQTT" if kind == "mqtt" else "decoded frames from a capture device"
                raise ValueError(f"recording.mode: copy keeps a video file's or an RTSP/HTTP stream's own encoded "
                                 f"video, but this camera gets {what}: use mode encode (or auto)")
        return self
