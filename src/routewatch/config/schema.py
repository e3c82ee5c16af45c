"""Typed, bounded, documented settings: one model per component section."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from routewatch.config.redact import redact_url
from routewatch.model import Severity

MAVLINK_SCHEMES = ("udpin", "udpout", "udp", "tcp", "tcpin", "serial", "file")
_HOST_PORT = re.compile(r"^(?P<host>[^:\s/]+):(?P<port>\d{1,5})$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """One telemetry source."""

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Short unique name; prefixes subject ids and counters.",
    )
    kind: Literal["mavlink"] = Field("mavlink", description="Adapter that reads this source.")
    url: str = Field(
        description=(
            "MAVLink connection: udpin:HOST:PORT, udpout:HOST:PORT, tcp:HOST:PORT, "
            "serial:/dev/ttyX[:BAUD], or file:PATH.tlog (a bare path ending .tlog also works)."
        )
    )
    realtime: bool = Field(False, description="Replay a .tlog at recorded speed instead of as fast as possible.")
    speed: float = Field(1.0, gt=0, le=1000, description="Replay speed factor when realtime is on.")
    reconnect_s: float = Field(2.0, gt=0, le=300, description="First delay before reconnecting a dropped link.")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Longest delay between reconnect attempts.")
    link_timeout_s: float = Field(5.0, gt=0, le=600, description="No message for this long marks the link down.")
    time_source: Literal["receipt", "vehicle"] = Field(
        "receipt",
        description="Live links: event time of a vehicle's messages. receipt: this machine's clock when they "
        "arrive (a replay faster than real time squeezes time, and rules on time see other motion); vehicle: "
        "the vehicle's own clock (SYSTEM_TIME's GPS time plus each message's time_boot_ms), the same at any "
        "replay speed; its messages before the first SYSTEM_TIME with a time are dropped (counted).",
    )
    recv_buffer_bytes: int = Field(
        4 * 1024 * 1024, ge=65536, le=256 * 1024 * 1024,
        description="UDP links: the socket's receive buffer, which holds bursts while the reader is busy. Linux "
        "grants at most net.core.rmem_max (a warning says so); datagrams dropped for want of room are counted "
        "as kernel drops.",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if v.endswith(".tlog") and ":" not in v.split("/")[0]:
            return v
        scheme, _, rest = v.partition(":")
        if scheme not in MAVLINK_SCHEMES or not _:
            raise ValueError(f"unsupported scheme {scheme!r} (use one of {', '.join(MAVLINK_SCHEMES)})")
        if scheme in ("udpin", "udpout", "udp", "tcp", "tcpin"):
            m = _HOST_PORT.match(rest)
            if m is None or not 0 < int(m["port"]) < 65536:
                raise ValueError(f"{scheme}: needs HOST:PORT with a port 1-65535, got {rest!r}")
        elif scheme == "serial":
            dev, _, baud = rest.partition(":")
            if not dev or (baud and not (baud.isdigit() and 50 <= int(baud) <= 10_000_000)):
                raise ValueError(f"serial: needs DEVICE[:BAUD], got {rest!r}")
        elif not rest:
            raise ValueError("file: needs a path")
        return v


class CorridorsConfig(_Section):
    """Where corridor geofences come from."""

    file: Path | None = Field(
        None,
        description="GeoJSON or KML file seeding the stored corridors at `run` start: imported only when its "
        "content changed since its last import, and never over corridors created, changed or deleted in the "
        "database since then. Empty means none.",
    )
    file_wins: bool = Field(
        False,
        description="Make the stored set equal to corridors.file at every start, reverting and deleting what "
        "planners changed in the database.",
    )


class EngineConfig(_Section):
    """Corridor rule parameters (defaults; a corridor's own properties win)."""

    hysteresis_m: float = Field(
        5.0, ge=0, le=1000,
        description="A subject inside must get this far outside the boundary to count as out.",
    )
    confirm_fixes: int = Field(2, ge=1, le=100, description="Fixes a changed side must persist before it counts.")
    confirm_s: float = Field(
        1.0, ge=0, le=3600,
        description="Seconds a changed side must persist (with confirm_fixes) before it counts.",
    )
    min_dwell_s: float = Field(60.0, gt=0, le=86400, description="Default time inside before a dwell alert.")
    min_progress_m: float = Field(
        50.0, gt=0, le=100000, description="Default progress along a corridor before an along alert."
    )
    along_window_s: float = Field(120.0, gt=0, le=3600, description="Window over which along-progress is measured.")
    along_tolerance_deg: float = Field(
        45.0, gt=0, le=90, description="Heading must be within this of the corridor's local bearing."
    )
    min_displacement_m: float = Field(
        5.0, ge=0, le=1000, description="Movement below this is treated as GPS noise (no heading, no direction)."
    )
    max_gap_s: float = Field(
        60.0, gt=0, le=86400, description="A longer gap between fixes resets dwell and along measurements."
    )
    max_speed_m_s: dict[str, float] = Field(
        default_factory=lambda: {"aircraft": 400.0, "drone": 120.0, "default": 90.0},
        description="By subject class ('default' for the rest): faster implied jumps are dropped as outliers.",
    )
    cross_max_gap_s: float = Field(
        900.0, gt=0, le=86400,
        description="Line crossings are interpolated between fixes at most this far apart; beyond, nothing is known.",
    )
    stale_s: float = Field(
        300.0, gt=0, le=86400,
        description="A fix older than the newest event time seen by more than this is dropped as stale.",
    )
    @field_validator("max_speed_m_s")
    @classmethod
    def _speeds(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: s for k, s in v.items() if not (0 < s <= 2000)}
        if bad:
            raise ValueError(f"speeds must be in (0, 2000] m/s: {bad}")
        return {"default": 90.0, **v}

    cell_m: float = Field(
        200.0, gt=1, le=100000,
        description="Grid cell size of the corridor index; about the width of typical corridors is best.",
    )


class AlertsConfig(_Section):
    """Alert lifecycle settings."""

    cooldown_s: float = Field(
        60.0, ge=0, le=86400,
        description=(
            "An alert closes only after its condition has stayed ended this long; if it returns meanwhile, "
            "the same alert goes on (and a closed alert reopens)."
        ),
    )
    close_after_s: float = Field(
        300.0, gt=0, le=86400,
        description="Instant alerts (cross, exit) and alerts of silent subjects close after this much event time.",
    )
    kinds: frozenset[str] = Field(
        frozenset({"enter", "dwell", "along", "cross", "breach"}),
        description="Alert kinds that are raised; add 'exit' for an alert on every exit.",
    )
    severity: dict[str, Severity] = Field(
        default_factory=lambda: {
            "enter": Severity.MEDIUM, "exit": Severity.LOW, "dwell": Severity.HIGH,
            "along": Severity.HIGH, "cross": Severity.HIGH, "breach": Severity.MEDIUM,
        },
        description="Default severity by alert kind; a corridor's `severity` wins.",
    )

    @field_validator("severity", "kinds")
    @classmethod
    def _kinds(cls, v: dict[str, Severity] | frozenset[str]) -> dict[str, Severity] | frozenset[str]:
        known = {"enter", "exit", "dwell", "along", "cross", "breach"}
        bad = sorted(set(v) - known)
        if bad:
            raise ValueError(f"unknown alert kind(s) {bad}; known: {sorted(known)}")
        return v


class StoreConfig(_Section):
    """Database settings."""

    url: str = Field("sqlite:///routewatch.db", description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://...")
    positions: bool = Field(True, description="Store every accepted position (track history for replay).")
    flush_every: int = Field(500, ge=1, le=100000, description="Write buffered rows after this many observations.")
    flush_s: float = Field(1.0, gt=0, le=60, description="Write buffered rows at least this often (wall time).")
    recover_s: float = Field(
        3600.0, ge=0, le=7 * 86400,
        description="On start, `run` replays this much stored track history (before the newest fix) to go on "
        "where it stopped; 0 starts fresh.",
    )
    journal_dir: Path = Field(
        Path("routewatch-journal"),
        description="While the database is unreachable, rows are spooled here and written when it returns.",
    )
    dead_letters_max_age_s: float = Field(
        7 * 86400.0, ge=60, le=366 * 86400, description="Dead letters older than this (by received time) are deleted."
    )
    dead_letters_max_count: int = Field(
        100_000, ge=100, le=100_000_000, description="Only this many of the newest dead letters are kept."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("unsupported database URL; use sqlite:///FILE or postgresql+psycopg://...")
        return v


class MqttBrokerConfig(_Section):
    """The MQTT broker routewatch connects to (MQTT 5, paho-mqtt 2)."""

    host: str = Field("127.0.0.1", min_length=1, max_length=255, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    client_id: str = Field(
        "routewatch", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="MQTT client id; must be unique per worker, and stable so the session survives restarts.",
    )
    username: str | None = Field(None, max_length=255, description="User name, if the broker needs one.")
    password: SecretStr | None = Field(
        None, description="Password (never logged); prefer setting ROUTEWATCH_MQTT__BROKER__PASSWORD."
    )
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: Path | None = Field(None, description="CA certificate file for TLS (default: the system's).")
    cert_file: Path | None = Field(None, description="Client certificate for TLS client authentication.")
    key_file: Path | None = Field(None, description="Client key for TLS client authentication.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive.")
    session_expiry_s: int = Field(
        86400, ge=0, le=2**32 - 1,
        description="How long the broker keeps our session (and queues QoS 1 messages) while we are away.",
    )
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="First delay before reconnecting.")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Longest delay between reconnects.")


def valid_topic_filter(topic_filter: str) -> bool:
    """Whether an MQTT topic filter is well formed (wildcards fill whole levels, '#' only last).

    >>> valid_topic_filter("routewatch/v1/pos/+"), valid_topic_filter("a/b#"), valid_topic_filter("")
    (True, False, False)
    """
    levels = topic_filter.split("/")
    if not topic_filter or "\0" in topic_filter or len(topic_filter.encode()) > 65535:
        return False
    return all(("+" not in lv or lv == "+") and ("#" not in lv or (lv == "#" and i == len(levels) - 1))
               for i, lv in enumerate(levels))


def _check_filter(v: str) -> str:
    if not valid_topic_filter(v):
        raise ValueError(f"invalid MQTT topic filter {v!r}: '+' and '#' must fill a whole level, '#' only last "
                         "(e.g. routewatch/v1/pos/+ or $share/workers/routewatch/v1/pos/+)")
    return v


class MqttInputConfig(_Section):
    """What routewatch subscribes to."""

    enabled: bool = Field(False, description="Subscribe to position, detection and telemetry topics.")
    topics: list[str] = Field(
        default_factory=lambda: ["routewatch/v1/pos/+", "routewatch/v1/det/+", "routewatch/v1/telemetry/+"],
        description="Topic filters (QoS 1). Give each worker its own share, e.g. routewatch/v1/pos/north.",
    )
    frigate_topic: str | None = Field(None, description="Frigate's events topic (e.g. frigate/events), if any.")
    frigate_cameras: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="Frigate camera name -> [lon, lat] the camera watches; events of other cameras are dead-lettered.",
    )
    max_payload_bytes: int = Field(65536, ge=256, le=16_777_216, description="Larger payloads are dead-lettered.")
    max_frame_bytes: int = Field(
        2_000_000, ge=1024, le=16_777_216,
        description="Camera frames (routewatch/v1/frames/<camera>, JSON with base64 JPEG) larger than this are "
        "dead-lettered.",
    )
    max_frame_pixels: int = Field(
        8_294_400, ge=4096, le=67_108_864,
        description="Camera frames with more pixels than this (width x height, from the JPEG header, before "
        "decoding) are dead-lettered; the default is 3840 x 2160.",
    )
    max_future_s: float = Field(
        300.0, ge=0, le=86400, description="Reports timed further ahead of our clock than this are dead-lettered."
    )

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        return [_check_filter(t) for t in v]

    @field_validator("frigate_topic")
    @classmethod
    def _frigate_topic(cls, v: str | None) -> str | None:
        return None if v is None else _check_filter(v)


class MqttOutputConfig(_Section):
    """Alerts published back to the bus."""

    enabled: bool = Field(False, description="Publish every alert change on routewatch/v1/alerts/<kind>.")
    topic_prefix: str = Field("routewatch/v1/alerts", min_length=1, description="Alerts go to PREFIX/<kind>.")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if "+" in v or "#" in v or "\0" in v or v.startswith("$"):
            raise ValueError(f"{v!r} is not a topic name to publish to: no '+', '#', NUL or leading '$'")
        return v


class MqttConfig(_Section):
    """MQTT broker, inputs and outputs."""

    broker: MqttBrokerConfig = Field(default_factory=MqttBrokerConfig)
    input: MqttInputConfig = Field(default_factory=MqttInputConfig)
    output: MqttOutputConfig = Field(default_factory=MqttOutputConfig)


class MotionConfig(_Section):
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


class DetectorConfig(_Section):
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


class EvidenceConfig(_Section):
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


class AlertTierConfig(_Section):
    """Footage around alerts kept longer: segments overlapping [opened - before_s, closed + after_s]."""

    min_severity: Severity = Field(Severity.INFO, description="Alerts of this severity or higher count for the tier.")
    scope: Literal["camera", "all"] = Field(
        "camera", description="camera: only alerts raised on this camera's tracks; all: any alert in the window.",
    )
    before_s: float = Field(30.0, ge=0, le=86_400, description="Seconds of footage kept before the alert opened.")
    after_s: float = Field(30.0, ge=0, le=86_400, description="Seconds kept after it closed (or was last seen).")
    max_age_s: float = Field(
        30 * 86_400.0, gt=0, le=10 * 365 * 86_400.0,
        description="Such footage is kept this long after it was recorded (unless the disk budget needs it).",
    )


class CameraRecordingConfig(_Section):
    """Recording of a camera's processed frames in short segments, with every frame's time and tracked boxes."""

    enabled: bool = Field(False, description="Record this camera (in `run`, and in `analyze --camera`).")
    segment_s: float = Field(60.0, ge=1, le=3600, description="Length of one segment file (event time).")
    codec: Literal["mp4v", "MJPG", "VP80"] = Field(
        "mp4v", description="mp4v (MPEG-4 Part 2 in .mp4, cheapest), MJPG (.avi, large) or VP80 (.webm, plays in "
        "browsers, about 20x the CPU).",
    )
    mode: Literal["encode", "copy", "auto"] = Field(
        "encode",
        description="encode: write the processed frames with `codec`; copy: keep a video file's or an RTSP/HTTP "
        "stream's own encoded video in MP4 segments (every frame, no re-encoding; needs PyAV, the video extra; "
        "refused for MQTT frames and capture devices; a codec MP4 cannot hold is encoded, with an error logged); "
        "auto: copy where the source allows, encode otherwise (reason logged).",
    )
    queue_frames: int = Field(
        32, ge=1, le=10_000,
        description="Frames waiting for the writer thread; when full (slow disk) frames are dropped and counted, "
        "never blocking detection (memory: frames x width x height x 3).",
    )
    max_age_s: float = Field(
        7 * 86_400.0, gt=0, le=10 * 365 * 86_400.0, description="Segments are deleted this long after recording."
    )
    max_bytes: int | None = Field(
        50_000_000_000, ge=1_000_000, le=10**15,
        description="Disk budget of this camera's segments; the oldest go first (footage near alerts last). "
        "null: no budget.",
    )
    alert_tiers: list[AlertTierConfig] = Field(
        default_factory=lambda: [AlertTierConfig()], max_length=10,
        description="Footage around alerts kept longer; the longest max_age_s of the tiers a segment meets wins.",
    )


class CameraCoverageConfig(_Section):
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


class RecordingConfig(_Section):
    """Where recordings go and how the disk is watched (per camera settings are in cameras[].recording)."""

    dir: Path = Field(Path("recordings"), description="Root directory of segment files (<camera>/<day>/...).")
    min_free_bytes: int = Field(
        1_000_000_000, ge=0, le=10**15,
        description="Recording stops (with a recording event and an error log) when the disk has less free space; "
        "detection and alerts go on.",
    )
    resume_free_bytes: int = Field(
        2_000_000_000, ge=0, le=10**15,
        description="A stopped camera resumes recording once this much space is free again.",
    )
    retry_s: float = Field(60.0, gt=0, le=86_400, description="A stopped camera checks for free space this often.")
    retention_interval_s: float = Field(
        300.0, ge=1, le=86_400, description="Retention (age, budget, orphan files) runs this often during `run`."
    )
    orphan_grace_s: float = Field(
        3600.0, ge=60, le=7 * 86_400,
        description="A file in the recordings directory with no database row is deleted once this old.",
    )

    @model_validator(mode="after")
    def _resume(self) -> RecordingConfig:
        if self.resume_free_bytes < self.min_free_bytes:
            raise ValueError(f"resume_free_bytes ({self.resume_free_bytes}) must be at least min_free_bytes "
                             f"({self.min_free_bytes})")
        return self


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


class DroneConfig(_Section):
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


class CameraConfig(_Section):
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


class WebConfig(_Section):
    """The web API and the operator UI, served by `routewatch run` in the same process."""

    enabled: bool = Field(False, description="Serve the API on host:port while running.")
    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(8080, ge=1, le=65535, description="TCP port.")
    secret_key: SecretStr | None = Field(
        None, description="Unused: sessions are kept in the database and survive restarts (accepted in old files)."
    )
    cookie_secure: bool = Field(
        False, description="Mark session cookies Secure always (they are anyway when served over TLS, or by a "
        "trusted proxy that says X-Forwarded-Proto: https).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, max_length=100,
        description="Reverse proxies (addresses or networks, e.g. 10.0.0.5 or 10.0.0.0/24) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from anyone else they are ignored.",
    )
    password_checks: int = Field(
        2, ge=1, le=64,
        description="Password checks run at once (Argon2 takes 64 MiB each: their memory ceiling is this times "
        "64 MiB); logins beyond them get 503 at once.",
    )
    tiles_url: str | None = Field(
        None, description="Raster basemap tile URL template (https://host/{z}/{x}/{y}.png); none: no tiles needed."
    )
    mbtiles: Path | None = Field(None, description="A local MBTiles file (raster) served by routewatch as the basemap.")
    borders_file: Path | None = Field(
        None, description="A local GeoJSON of borders (e.g. Natural Earth boundary lines) drawn as a map layer."
    )
    login_max_failures_per_user: int = Field(
        5, ge=0, le=1000,
        description="Failed logins for one username from one address before that name's logins from that address "
        "are refused for a while (429); 0: no limit.",
    )
    login_max_failures_per_address: int = Field(
        20, ge=0, le=100_000,
        description="Failed logins from one client address before its logins are refused for a while; 0: no limit "
        "(behind a reverse proxy every client has the proxy's address).",
    )
    login_window_s: float = Field(
        900.0, gt=0, le=86_400,
        description="A username's or address's failures are forgotten after this long without one.",
    )
    login_lockout_s: float = Field(
        60.0, ge=1, le=86_400, description="First refusal period; each further failure doubles it."
    )
    login_max_lockout_s: float = Field(900.0, ge=1, le=86_400, description="Longest refusal period.")
    login_limiter_entries: int = Field(
        10_000, ge=100, le=1_000_000,
        description="Most usernames (and, separately, addresses) the login limiter remembers; quiet ones go first.",
    )
    session_ttl_s: float = Field(
        12 * 3600.0, gt=0, le=366 * 86_400,
        description="A login session lasts this long (sessions are kept in the database: restarts and other "
        "workers keep them).",
    )
    max_upload_bytes: int = Field(
        5 * 1024 * 1024, ge=1, le=1024**3,
        description="Largest request body of corridor imports and edits and of backtests (413 beyond).",
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1, le=1024**3,
        description="Largest body of every other request (logins, acknowledgements, users, tokens; 413 beyond).",
    )
    max_track_points: int = Field(
        5000, ge=2, le=10_000_000,
        description="An alert's track in the API is thinned evenly to at most this many fixes.",
    )
    max_replay_positions: int = Field(
        100_000, ge=1, le=100_000_000, description="Most positions one replay answer holds (it says truncated then)."
    )
    max_borders_bytes: int = Field(20 * 1024 * 1024, ge=1, le=1024**3, description="Largest borders_file served.")
    live_poll_s: float = Field(
        0.2, gt=0, le=60,
        description="The live stream reads new alert events from the database this often (and at once when the "
        "pipeline in this process stores some).",
    )
    live_keepalive_s: float = Field(
        15.0, gt=0, le=3600, description="A quiet live stream sends a keep-alive this often."
    )
    exports_dir: Path | None = Field(
        None, description="Where web export jobs keep their files; none: <recording.dir>/.exports (the recordings' "
        "disk, not a small /tmp, in a directory no camera's retention walks).",
    )
    exports_max_bytes: int = Field(
        20 * 1000**3, ge=0, le=10**18, description="Bytes that ended export jobs may keep; the oldest go first."
    )
    exports_min_free_bytes: int | None = Field(
        None, ge=0, le=10**18,
        description="An export fails rather than leave less disk free than this; none: recording.resume_free_bytes "
        "(so an export cannot stop the recorders).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return v

    @field_validator("login_max_lockout_s")
    @classmethod
    def _lockouts(cls, v: float, info: ValidationInfo) -> float:
        first = info.data.get("login_lockout_s")
        if first is not None and v < first:
            raise ValueError(f"must be at least login_lockout_s ({first})")
        return v


class LoggingConfig(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")


class Settings(_Section):
    """The whole configuration file."""

    sources: list[SourceConfig] = Field(default_factory=list, description="Telemetry sources.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras (fixed or drone) for `run`.")
    corridors: CorridorsConfig = Field(default_factory=CorridorsConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @field_validator("sources")
    @classmethod
    def _unique(cls, v: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate source name(s) {dup}")
        return v

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, v: list[CameraConfig]) -> list[CameraConfig]:
        names = [c.name for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate camera name(s) {dup}")
        return v

    @model_validator(mode="after")
    def _mqtt_cameras(self) -> Settings:
        fed = [c.name for c in self.cameras if c.url == "mqtt"]
        if fed and not self.mqtt.input.enabled:
            raise ValueError(f"camera(s) {fed} take frames from MQTT (url: mqtt): enable mqtt.input")
        return self

    @model_validator(mode="after")
    def _drone_pose_sources(self) -> Settings:
        sources = {s.name: s for s in self.sources}
        for c in self.cameras:
            if c.kind != "drone" or c.url is None:
                continue
            d, where = c.drone, f"cameras[{c.name}].drone"
            if camera_source(c.url) == "file":
                if d.pose_source is not None:
                    raise ValueError(f"{where}.pose_source: a recorded drone video takes its pose from its pose "
                                     "file (drone.pose_file, or VIDEO.tlog / VIDEO.klv beside it); pose_source is "
                                     "for live drone cameras")
                continue
            if d.pose_source is None:
                raise ValueError(f"{where}.pose_source: a live drone camera needs the name of the live MAVLink "
                                 "source (in `sources`) that carries the drone's telemetry")
            src = sources.get(d.pose_source)
            if src is None:
                raise ValueError(f"{where}.pose_source: {d.pose_source!r} is not a configured source "
                                 f"(sources: {', '.join(sorted(sources)) or 'none'})")
            if src.url.startswith("file:") or src.url.endswith(".tlog"):
                raise ValueError(f"{where}.pose_source: source {src.name!r} replays a .tlog; a live camera needs "
                                 "a live MAVLink link (udpin:, udpout:, tcp:, tcpin:, serial:)")
            if d.hfov_deg is None and d.intrinsics is None:
                raise ValueError(f"{where}: MAVLink telemetry carries no field of view: set drone.hfov_deg "
                                 "(or drone.intrinsics)")
        return self
