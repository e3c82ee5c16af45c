"""Recording camera footage, and how long it is kept (alert tiers)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from routewatch.config.base import Section
from routewatch.model import Severity


class AlertTierConfig(Section):
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


class CameraRecordingConfig(Section):
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


class RecordingConfig(Section):
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
