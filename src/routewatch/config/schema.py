"""The settings root: one section per component, each in its own module of routewatch.config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from routewatch.config.base import Section
from routewatch.config.cameras import CameraConfig, camera_source
from routewatch.config.engine import AlertsConfig, CorridorsConfig, EngineConfig
from routewatch.config.mqtt import MqttConfig
from routewatch.config.recording import RecordingConfig
from routewatch.config.sources import SourceConfig
from routewatch.config.store import StoreConfig
from routewatch.config.web import WebConfig
from routewatch.config.world import WorldConfig


class LoggingConfig(Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")


class Settings(Section):
    """The whole configuration file."""

    sources: list[SourceConfig] = Field(default_factory=list, description="Telemetry sources.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras (fixed or drone) for `run`.")
    corridors: CorridorsConfig = Field(default_factory=CorridorsConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    world: WorldConfig = Field(default_factory=WorldConfig)
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


__all__ = ["LoggingConfig", "Settings"]
