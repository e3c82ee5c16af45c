"""The MQTT broker, what is read from it and what is published to it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from routewatch.config.base import Section


class MqttBrokerConfig(Section):
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


class MqttInputConfig(Section):
    """What routewatch subscribes to."""

    enabled: bool = Field(False, description="Subscribe to position, detection and telemetry topics.")
    topics: list[str] = Field(
        default_factory=lambda: ["routewatch/v1/pos/+", "routewatch/v1/det/+", "routewatch/v1/telemetry/+"],
        description="Topic filters (QoS 1). Workers owning sectors (settings.sectors) all subscribe to every "
        "position topic; without sectors, a worker may take a share, e.g. routewatch/v1/pos/north.",
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


class MqttOutputConfig(Section):
    """Alerts published back to the bus."""

    enabled: bool = Field(False, description="Publish every alert change on routewatch/v1/alerts/<kind>.")
    topic_prefix: str = Field("routewatch/v1/alerts", min_length=1, description="Alerts go to PREFIX/<kind>.")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if "+" in v or "#" in v or "\0" in v or v.startswith("$"):
            raise ValueError(f"{v!r} is not a topic name to publish to: no '+', '#', NUL or leading '$'")
        return v


class MqttConfig(Section):
    """MQTT broker, inputs and outputs."""

    broker: MqttBrokerConfig = Field(default_factory=MqttBrokerConfig)
    input: MqttInputConfig = Field(default_factory=MqttInputConfig)
    output: MqttOutputConfig = Field(default_factory=MqttOutputConfig)
