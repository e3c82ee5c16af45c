"""MQTT payloads -> model events: routewatch's pos/det/telemetry v1 formats and Frigate events. Pure.

`parse_message` never raises: every message becomes exactly one `Accepted` (its events, possibly
none) or one `DeadLetter` whose reason starts with a short category ("bad JSON:", "schema pos.v1:",
"time in the future:", ...) followed by what was wrong and where (a JSON path).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from routewatch.config.mqtt import MqttInputConfig
from routewatch.model import (
    Attitude,
    DeadLetter,
    FenceStatus,
    InboundMessage,
    Observation,
    Role,
    TelemetryEvent,
    VehicleStatus,
)
from routewatch.schemas import validator

TOPIC_PREFIX = "routewatch/v1/"
KINDS = ("pos", "det", "telemetry")
EXCERPT_BYTES = 200
MAX_DEPTH = 16  # our formats nest 4 deep, Frigate's about 5; deeper is an attack or a bug
MAX_NAME = 64
MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?P<tz>[Zz]|[+-]\d\d:\d\d)?")
_TIMEZONE_EXAMPLE = "e.g. 2026-03-01T12:00:00Z or 2026-03-01T13:00:00+01:00"

# Only the fields routewatch reads; Frigate adds fields between versions, so the rest is allowed.
_FRIGATE_EVENT = Draft202012Validator({
    "type": "object",
    "required": ["type", "after"],
    "properties": {
        "type": {"enum": ["new", "update", "end"]},
        "after": {
            "type": "object",
            "required": ["id", "camera", "label", "frame_time"],
            "properties": {
                "id": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]{1,128}$"},
                "camera": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "label": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_ -]{0,31}$"},
                "frame_time": {"type": "number", "minimum": 0, "maximum": 1e11},  # Unix seconds
                "score": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "top_score": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "false_positive": {"type": ["boolean", "null"]},
            },
        },
    },
})


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message that was understood, and the events it carries (none for e.g. a Frigate `end`)."""

    events: tuple[TelemetryEvent, ...] = ()
    seq: int | None = None  # the publisher's message counter, where it sends one


class _Reject(Exception):
    """The message is dead-lettered with this reason."""


@dataclass(frozen=True, slots=True)
class PixelToGround:
    """How a fixed camera's pixel detections are placed, and where that placement can be trusted."""

    to_ground: Callable[[float, float], tuple[float, float] | None]
    image_size: tuple[int, int] | None = None  # (width, height) in pixels; None: not known
    outside_m: Callable[[float, float], float] = lambda lon, lat: 0.0  # metres outside the calibrated area
    margin_m: float = math.inf
    # One-sigma accuracy (m) of the ground point seen at a pixel (Calibration.accuracy_m); None: unknown.
    accuracy_m: Callable[[float, float], float | None] = lambda u, v: None


def parse_message(msg: InboundMessage, cfg: MqttInputConfig, *, now: datetime,
                  ground: Mapping[str, PixelToGround] | None = None) -> Accepted | DeadLetter:
    """Turn one MQTT message into model events, or into a dead letter that says why not; never raises.

    `ground` maps a camera name to its pixel-to-ground function (a fixed camera's calibration):
    pixel detections (bbox_px) of those cameras are placed at the bottom centre of their box.
    """
    try:
        events, seq = _parse(msg, cfg, now, ground or {})
        return Accepted(events, seq)
    except _Reject as exc:
        return dead_letter(msg, str(exc))
    except Exception as exc:  # a bug must cost one message, not the pipeline
        return dead_letter(msg, f"internal: {type(exc).__name__}: {_clip(str(exc))}")


def dead_letter(msg: InboundMessage, reason: str) -> DeadLetter:
    """A dead letter for msg: its topic, the reason, and the first 200 bytes of its payload."""
    payload = bytes(msg.payload)
    excerpt = payload[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    return DeadLetter(msg.topic, reason, excerpt, msg.received_at, len(payload))


def _parse(msg: InboundMessage, cfg: MqttInputConfig, now: datetime,
           ground: Mapping[str, PixelToGround]) -> tuple[tuple[TelemetryEvent, ...], int | None]:
    kind, name = _route(msg.topic, cfg)
    size = len(msg.payload)
    if size > cfg.max_payload_bytes:
        raise _Reject(f"too large: {size} bytes, more than mqtt.input.max_payload_bytes ({cfg.max_payload_bytes})")
    doc = _load_json(bytes(msg.payload))
    if kind == "frigate":
        return _frigate(doc, cfg, now), None
    if not isinstance(doc, dict):
        raise _Reject(f"not an object: the payload is a JSON {_json_type(doc)}; {kind}.v1 messages are objects")
    _validate(validator(f"{kind}.v1"), f"{kind}.v1", doc)
    builder: Callable[[str, dict[str, Any], MqttInputConfig, datetime], tuple[TelemetryEvent, ...]]
    if kind == "det":
        return _det(name, doc, cfg, now, ground.get(name)), doc.get("seq")
    builder = {"pos": _pos, "telemetry": _telemetry}[kind]
    return builder(name, doc, cfg, now), doc.get("seq")


def _route(topic: str, cfg: MqttInputConfig) -> tuple[str, str]:
    """(kind, source or camera name) of a topic."""
    if cfg.frigate_topic and topic == cfg.frigate_topic:
        return "frigate", ""
    kind, _, name = topic.removeprefix(TOPIC_PREFIX).partition("/") if topic.startswith(TOPIC_PREFIX) else ("", "", "")
    if kind not in KINDS:
        known = [f"{TOPIC_PREFIX}{k}/<name>" for k in KINDS] + ([cfg.frigate_topic] if cfg.frigate_topic else [])
        raise _Reject(f"unknown topic: {_clip(topic)!r} is none of {', '.join(known)}")
    if not name or len(name) > MAX_NAME or "/" in name or not name.isprintable():
        raise _Reject(f"unknown topic: the last level of {_clip(topic)!r} must be a name of 1-{MAX_NAME} "
                      "printable characters without '/'")
    return kind, name


def _reject_constant(name: str) -> Any:
    raise _Reject(f"bad JSON: {name} is not a JSON number (NaN and Infinity are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise _Reject(f"bad JSON: the number {_clip(text, 40)} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 400:  # no field of ours is near 10**400, and Python refuses to convert beyond 4300 digits
        raise _Reject(f"bad JSON: an integer of {len(text)} digits is out of range")
    return int(text)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int)


def _load_json(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8").removeprefix("\ufeff")  # RFC 8259 lets a parser ignore a BOM
    except UnicodeDecodeError as exc:
        raise _Reject(f"bad JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        doc = _DECODER.decode(text)
    except _Reject:
        raise
    except RecursionError:
        raise _Reject("bad JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and ints longer than Python converts
        raise _Reject(f"bad JSON: {_clip(str(exc))}") from None
    if _depth(doc) > MAX_DEPTH:
        raise _Reject(f"bad JSON: nested deeper than {MAX_DEPTH} levels")
    return doc


def _depth(doc: Any) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _validate(check: Draft202012Validator, name: str, doc: dict[str, Any]) -> None:
    error = best_match(check.iter_errors(doc))
    if error is None:
        return
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else " or ".join(
            error.validator_value)
        detail = f"expected {expected}, got {_json_type(error.instance)}"
    elif error.validator == "anyOf" and all(set(s) == {"required"} for s in error.validator_value):
        detail = "needs " + " or ".join("+".join(s["required"]) for s in error.validator_value)
    else:
        detail = error.message
    raise _Reject(f"schema {name}: {error.json_path}: {_clip(detail)}")


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"), (int, "integer"),
                       (float, "number")):
        if isinstance(value, kind):
            return name
    return "null"


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _time(value: str, path: str, cfg: MqttInputConfig, now: datetime) -> datetime:
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise _Reject(f"bad time: {path} {_clip(value, 60)!r} is not an RFC 3339 date-time ({_TIMEZONE_EXAMPLE})")
    if match["tz"] is None:
        raise _Reject(f"missing timezone: {path} {value!r} has no Z or offset ({_TIMEZONE_EXAMPLE})")
    try:
        t = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError as exc:
        raise _Reject(f"bad time: {path} {value!r}: {exc}") from None
    return _check_time(t, path, cfg, now)


def _check_time(t: datetime, path: str, cfg: MqttInputConfig, now: datetime) -> datetime:
    if t < MIN_TIME:
        raise _Reject(f"time before 2000: {path} is {t.isoformat()}")
    ahead = (t - now).total_seconds()
    if ahead > cfg.max_future_s:
        raise _Reject(f"time in the future: {path} is {t.isoformat()}, {ahead:.0f} s ahead of the receiver's "
                      f"clock (mqtt.input.max_future_s is {cfg.max_future_s:g})")
    return t.astimezone(UTC)


def _text(value: Any, path: str) -> str:
    text = str(value)
    bad = next((c for c in text if not c.isprintable()), None)
    if bad is not None:  # format characters (BOM, bidi overrides) would make look-alike ids
        raise _Reject(f"bad id: {path} contains the unprintable character U+{ord(bad):04X}")
    return text


def _opt(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    return None if value is None else float(value)


def _lon_lat(doc: dict[str, Any], path: str) -> tuple[float, float]:
    lon, lat = float(doc["lon"]), float(doc["lat"])
    if lon == 0 and lat == 0:  # what many GPS receivers send without a fix, as MAVLink's decoder treats it
        raise _Reject(f"no position: {path} lon/lat is 0,0, which is taken as no fix")
    return lon, lat


def _pos(source: str, doc: dict[str, Any], cfg: MqttInputConfig, now: datetime) -> tuple[TelemetryEvent, ...]:
    lon, lat = _lon_lat(doc, "$")
    return (Observation(
        subject_id=f"{source}/{_text(doc['subject_id'], '$.subject_id')}", time=_time(doc["time"], "$.time", cfg, now),
        lon=lon, lat=lat,
        alt_m=_opt(doc, "alt_m"), subject_class=doc.get("class", "unknown"), role=Role(doc.get("role", "target")),
        confidence=float(doc.get("confidence", 1.0)), source=source, speed_m_s=_opt(doc, "speed_m_s"),
        heading_deg=_opt(doc, "heading_deg"), accuracy_m=_opt(doc, "accuracy_m"),
    ),)


def _det(camera: str, doc: dict[str, Any], cfg: MqttInputConfig, now: datetime,
         to_ground: PixelToGround | None) -> tuple[TelemetryEvent, ...]:
    t = _time(doc["time"], "$.time", cfg, now)
    out: list[TelemetryEvent] = []
    for i, det in enumerate(doc["detections"]):
        accuracy = _opt(det, "accuracy_m")  # the publisher's own figure wins over one derived here
        if "lon" in det:
            lon, lat = _lon_lat(det, f"$.detections[{i}]")
        else:
            lon, lat, derived = _pixel_to_ground(camera, det["bbox_px"], f"$.detections[{i}]", to_ground)
            accuracy = derived if accuracy is None else accuracy
        out.append(Observation(
            subject_id=f"{camera}/{_text(det['track_id'], f'$.detections[{i}].track_id')}", time=t, lon=lon, lat=lat,
            alt_m=_opt(det, "alt_m"),
            subject_class=det["class"], role=Role.TARGET, confidence=float(det.get("confidence", 1.0)),
            source=camera, speed_m_s=_opt(det, "speed_m_s"), heading_deg=_opt(det, "heading_deg"),
            accuracy_m=accuracy,
        ))
    return tuple(out)


def _pixel_to_ground(camera: str, box: list[float], path: str,
                     to_ground: PixelToGround | None) -> tuple[float, float, float | None]:
    """A pixel detection's ground point (the bottom centre of its box, through the camera's calibration)
    and that point's accuracy in metres (None if the calibration gives none)."""
    if to_ground is None:
        raise _Reject(f"pixel detection: {path} has bbox_px but no lon/lat, and camera {camera!r} has no "
                      "calibration here (a `cameras` entry of kind fixed with gcps); publish lon/lat or add one")
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x1 < x2 and y1 < y2):
        raise _Reject(f"bad box: {path}.bbox_px {_clip(str(box), 80)} needs x_min < x_max and y_min < y_max")
    size = to_ground.image_size
    if size is not None and (x2 > size[0] or y2 > size[1]):
        raise _Reject(f"outside the image: {path}.bbox_px {_clip(str(box), 80)} reaches beyond the "
                      f"{size[0]} x {size[1]} px image of camera {camera!r}")
    u, v = (x1 + x2) / 2, y2
    ground = to_ground.to_ground(u, v)
    if ground is None:
        raise _Reject(f"off the ground: {path}.bbox_px bottom centre is on or above camera {camera!r}'s horizon")
    beyond = to_ground.outside_m(*ground)
    if not beyond <= to_ground.margin_m:
        raise _Reject(f"beyond the calibration: {path}.bbox_px bottom centre maps to lon {ground[0]:.6f}, lat "
                      f"{ground[1]:.6f}, {beyond:,.0f} m outside the area the ground control points of camera "
                      f"{camera!r} span (cameras[].ground_margin_m is {to_ground.margin_m:g})")
    return ground[0], ground[1], to_ground.accuracy_m(u, v)


def _telemetry(source: str, doc: dict[str, Any], cfg: MqttInputConfig, now: datetime) -> tuple[TelemetryEvent, ...]:
    t = _time(doc["time"], "$.time", cfg, now)
    sid = f"{source}/{_text(doc['vehicle_id'], '$.vehicle_id')}"
    out: list[TelemetryEvent] = []
    if (pos := doc.get("position")) is not None:
        lon, lat = _lon_lat(pos, "$.position")
        out.append(Observation(
            subject_id=sid, time=t, lon=lon, lat=lat, alt_m=_opt(pos, "alt_m"),
            subject_class=doc.get("class", "drone"), role=Role(doc.get("role", "patrol")), source=source,
            speed_m_s=_opt(pos, "speed_m_s"), heading_deg=_opt(pos, "heading_deg"),
            accuracy_m=_opt(pos, "accuracy_m"),
        ))
    if (att := doc.get("attitude")) is not None:
        out.append(Attitude(sid, t, float(att["roll_deg"]), float(att["pitch_deg"]), float(att["yaw_deg"]), source))
    if (status := doc.get("status")) is not None:
        out.append(VehicleStatus(sid, t, status["vehicle_type"], _text(status["mode"], "$.status.mode"),
                                 status["armed"], source))
    if (fence := doc.get("fence")) is not None:
        out.append(FenceStatus(sid, t, fence["breached"], int(fence.get("breach_count", 0)),
                               int(fence.get("breach_type", 0)), source))
    return tuple(out)


def _frigate(doc: Any, cfg: MqttInputConfig, now: datetime) -> tuple[TelemetryEvent, ...]:
    if not isinstance(doc, dict):
        raise _Reject(f"not an object: the payload is a JSON {_json_type(doc)}; Frigate events are objects")
    _validate(_FRIGATE_EVENT, "frigate event", doc)
    after = doc["after"]
    camera = after["camera"]
    where = cfg.frigate_cameras.get(camera)
    if where is None:
        mapped = ", ".join(sorted(cfg.frigate_cameras)) or "none"
        raise _Reject(f"unmapped camera: Frigate camera {_clip(camera, MAX_NAME)!r} is not in "
                      f"mqtt.input.frigate_cameras (mapped: {mapped})")
    lon, lat = float(where[0]), float(where[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _Reject(f"unmapped camera: mqtt.input.frigate_cameras[{camera!r}] is not a lon/lat: {lon}, {lat}")
    if doc["type"] == "end" or after.get("false_positive"):
        return ()  # an ended or not yet confirmed object: nothing to place
    frame_time = float(after["frame_time"])
    if frame_time < MIN_TIME.timestamp():
        raise _Reject(f"time before 2000: $.after.frame_time is {frame_time:g}")
    if frame_time - now.timestamp() > cfg.max_future_s:
        raise _Reject(f"time in the future: $.after.frame_time is {frame_time:.3f}, "
                      f"{frame_time - now.timestamp():.0f} s ahead of the receiver's clock "
                      f"(mqtt.input.max_future_s is {cfg.max_future_s:g})")
    score = next((s for s in (after.get("score"), after.get("top_score")) if s is not None), 1.0)
    return (Observation(
        subject_id=f"frigate/{camera}/{_text(after['id'], '$.after.id')}", time=datetime.fromtimestamp(frame_time, UTC),
        lon=lon, lat=lat,
        subject_class=after["label"].lower().replace(" ", "_"), role=Role.TARGET, confidence=float(score),
        source=f"frigate/{camera}",
    ),)
