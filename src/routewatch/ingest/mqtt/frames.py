"""Camera frames on MQTT (`routewatch/v1/frames/<camera>`, frame.v1) -> checked JPEG frames. Pure.

A message is a JSON object `{"time": RFC 3339, "jpeg": base64, "seq": n}` (schema frame.v1). It is
checked here without decoding the pixels: the topic names a configured camera, the size is within
`mqtt.input.max_frame_bytes`, the time is sane, the base64 is valid and the bytes are a whole JPEG
of sane dimensions (read from its header, so a small file declaring a huge image is refused before
anything is allocated). Decoding happens later, in the camera's processing thread.

`parse_frame` never raises: it returns a `JpegFrame` or a `DeadLetter` whose reason starts with a
short category, as `ingest.payloads` does ("unknown camera:", "too large:", "bad base64:", ...).

>>> jpeg_dimensions(bytes.fromhex("ffd8ffc0000b080002000301011100ffd9"))
(3, 2)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.mqtt.payloads import MAX_NAME, _clip, _load_json, _Reject, _time, _validate, dead_letter
from routewatch.model import DeadLetter, InboundMessage
from routewatch.schemas import validator

FRAMES_PREFIX = "routewatch/v1/frames/"
MAX_SIDE_PX = 8192
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})  # markers without a length field


@dataclass(frozen=True, slots=True)
class JpegFrame:
    """A checked, still compressed camera frame from the bus."""

    camera: str
    time: datetime
    jpeg: bytes
    width: int
    height: int
    topic: str
    received_at: datetime
    seq: int | None = None


def is_frame_topic(topic: str) -> bool:
    """Whether a topic is in the camera-frames namespace (routewatch/v1/frames/...)."""
    return topic.startswith(FRAMES_PREFIX)


def parse_frame(msg: InboundMessage, cfg: MqttInputConfig, cameras: Collection[str], *,
                now: datetime) -> JpegFrame | DeadLetter:
    """Check one frame message for one of `cameras`; a dead letter says what was wrong. Never raises."""
    try:
        return _parse(msg, cfg, cameras, now)
    except _Reject as exc:
        return dead_letter(msg, str(exc))
    except Exception as exc:  # a bug must cost one frame, not the camera
        return dead_letter(msg, f"internal: {type(exc).__name__}: {_clip(str(exc))}")


def _parse(msg: InboundMessage, cfg: MqttInputConfig, cameras: Collection[str], now: datetime) -> JpegFrame:
    camera = msg.topic.removeprefix(FRAMES_PREFIX) if is_frame_topic(msg.topic) else ""
    if not camera or len(camera) > MAX_NAME or "/" in camera or not camera.isprintable():
        raise _Reject(f"unknown topic: {_clip(msg.topic)!r} is not {FRAMES_PREFIX}<camera>")
    if camera not in cameras:
        known = ", ".join(sorted(cameras)) or "none"
        raise _Reject(f"unknown camera: {_clip(camera, MAX_NAME)!r} is not a camera with `url: mqtt` "
                      f"in the settings (configured: {known})")
    size = len(msg.payload)
    if size == 0:
        raise _Reject("empty: no payload; frame.v1 is a JSON object with time and jpeg")
    if size > cfg.max_frame_bytes:
        raise _Reject(f"too large: {size} bytes, more than mqtt.input.max_frame_bytes ({cfg.max_frame_bytes})")
    doc = _load_json(bytes(msg.payload))
    if not isinstance(doc, dict):
        raise _Reject("not an object: frame.v1 messages are JSON objects with time and jpeg")
    _validate(validator("frame.v1"), "frame.v1", doc)
    t = _time(doc["time"], "$.time", cfg, now)
    try:
        data = base64.b64decode(doc["jpeg"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Reject(f"bad base64: $.jpeg: {_clip(str(exc), 80)}") from None
    try:
        width, height = jpeg_dimensions(data)
    except ValueError as exc:
        raise _Reject(f"not a JPEG: $.jpeg: {exc}") from None
    if width * height > cfg.max_frame_pixels:  # a small JPEG can decode to gigabytes
        raise _Reject(f"too many pixels: {width} x {height}, more than mqtt.input.max_frame_pixels "
                      f"({cfg.max_frame_pixels})")
    for key, value in (("width_px", width), ("height_px", height)):
        if key in doc and doc[key] != value:
            raise _Reject(f"size mismatch: $.{key} is {doc[key]} but the JPEG's header says {value}")
    return JpegFrame(camera, t, data, width, height, msg.topic, msg.received_at, doc.get("seq"))


def jpeg_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's frame header; ValueError if it is not a whole JPEG of sane size."""
    if data[:3] != b"\xff\xd8\xff":
        raise ValueError(f"does not start with the JPEG start-of-image marker FF D8 FF (starts {data[:4].hex()})")
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):  # some encoders pad after EOI
        raise ValueError("truncated: no end-of-image marker FF D9 at the end")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError(f"corrupt: no marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (0xD9, 0xDA):
            break
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2:
            raise ValueError(f"corrupt: segment at byte {i} has length {length}")
        if marker in _SOF:
            if i + 9 > len(data):
                break
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            if not (0 < width <= MAX_SIDE_PX and 0 < height <= MAX_SIDE_PX):
                raise ValueError(f"image of {width} x {height} pixels; 1 to {MAX_SIDE_PX} per side are accepted")
            return width, height
        i += 2 + length
    raise ValueError("corrupt: no frame header (SOF) before the image data")
