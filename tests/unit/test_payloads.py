"""MQTT payloads -> exact model values, or a dead letter with a specific reason; and the shipped schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routewatch.config.mqtt import MqttInputConfig
from routewatch.geo.crs import LocalFrame
from routewatch.geo.homography import Calibration, GroundControlPoint
from routewatch.ingest.mqtt.payloads import Accepted, PixelToGround, dead_letter, parse_message
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
from routewatch.schemas import NAMES, load_schema, validator

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
T = "2026-03-01T11:59:30Z"
T0 = datetime(2026, 3, 1, 11, 59, 30, tzinfo=UTC)
CFG = MqttInputConfig(frigate_topic="frigate/events", frigate_cameras={"gate": (10.25, 50.5)},
                      max_payload_bytes=1024, max_future_s=300)
POS, DET, TEL = "routewatch/v1/pos/gps", "routewatch/v1/det/cam1", "routewatch/v1/telemetry/br"
FRIGATE = "frigate/events"


def parse(topic: str, payload: bytes | dict[str, Any], cfg: MqttInputConfig = CFG) -> Accepted | DeadLetter:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_message(InboundMessage(topic, raw, RECEIVED, token=7), cfg, now=NOW)


def pos(**fields: Any) -> dict[str, Any]:
    return {"subject_id": "t7", "time": T, "lon": 10.5, "lat": 50.25, **fields}


def det(*detections: dict[str, Any], time: str = T) -> dict[str, Any]:
    return {"time": time, "detections": list(detections)}


def person(track: str = "1", **fields: Any) -> dict[str, Any]:
    return {"track_id": track, "class": "person", "lon": 10.5, "lat": 50.25, **fields}


def frigate(kind: str = "new", camera: str = "gate", **after: Any) -> dict[str, Any]:
    return {"type": kind, "before": {"id": "e1", "camera": camera},
            "after": {"id": "1772366370.1-abc", "camera": camera, "label": "person", "frame_time": 1772366370.5,
                      "score": 0.8, "top_score": 0.9, "false_positive": False, "box": [1, 2, 3, 4],
                      "current_zones": ["road"], **after}}


def obs(subject: str, source: str, **fields: Any) -> Observation:
    base: dict[str, Any] = {"time": T0, "lon": 10.5, "lat": 50.25}
    return Observation(subject_id=subject, source=source, **(base | fields))


ACCEPTED = [
    pytest.param(POS, pos(), (obs("gps/t7", "gps"),), id="pos-minimal"),
    pytest.param(POS, pos(**{"class": "car", "role": "patrol", "time": "2026-03-01T12:59:30.250+01:00",
                             "alt_m": 12.5, "speed_m_s": 3, "heading_deg": 359.5, "accuracy_m": 4.0,
                             "confidence": 0.75}),
                 (obs("gps/t7", "gps", time=T0 + timedelta(milliseconds=250), subject_class="car",
                      role=Role.PATROL, alt_m=12.5, speed_m_s=3.0, heading_deg=359.5, accuracy_m=4.0,
                      confidence=0.75),), id="pos-full-offset-time"),
    pytest.param(POS, pos(alt_m=None, speed_m_s=None, heading_deg=None, accuracy_m=None),
                 (obs("gps/t7", "gps"),), id="pos-nulls"),
    pytest.param(POS, pos(time="2026-03-01t11:59:30.123456789z"),
                 (obs("gps/t7", "gps", time=T0 + timedelta(microseconds=123456)),), id="pos-nanoseconds-lowercase"),
    pytest.param(POS, pos(time="2026-03-01 11:59:30Z", lon=-180, lat=90),
                 (obs("gps/t7", "gps", lon=-180.0, lat=90.0),), id="pos-space-separator-range-edges"),
    pytest.param(POS, pos(time="2026-03-01T12:05:00Z"),
                 (obs("gps/t7", "gps", time=NOW + timedelta(seconds=300)),), id="pos-exactly-max-future"),
    pytest.param(POS, b"\xef\xbb\xbf" + json.dumps(pos()).encode(), (obs("gps/t7", "gps"),), id="pos-utf8-bom"),
    pytest.param(DET, det(), (), id="det-empty-frame"),
    pytest.param(DET, det(person("1", confidence=0.9, bbox_px=[1, 2, 30, 40]),
                          person("2", **{"class": "car"}, lon=10.6, lat=50.3, alt_m=None, heading_deg=90)),
                 (obs("cam1/1", "cam1", subject_class="person", confidence=0.9),
                  obs("cam1/2", "cam1", subject_class="car", lon=10.6, lat=50.3, heading_deg=90.0)),
                 id="det-two-georeferenced"),
    pytest.param(TEL, {"vehicle_id": 1, "time": T,
                       "position": {"lon": 10.5, "lat": 50.25, "alt_m": 100, "speed_m_s": 12.0, "heading_deg": 45},
                       "attitude": {"roll_deg": 1.5, "pitch_deg": -2, "yaw_deg": 270},
                       "status": {"vehicle_type": "quadrotor", "mode": "AUTO", "armed": True},
                       "fence": {"breached": True, "breach_count": 2, "breach_type": 3}},
                 (obs("br/1", "br", subject_class="drone", role=Role.PATROL, alt_m=100.0, speed_m_s=12.0,
                      heading_deg=45.0),
                  Attitude("br/1", T0, 1.5, -2.0, 270.0, "br"),
                  VehicleStatus("br/1", T0, "quadrotor", "AUTO", True, "br"),
                  FenceStatus("br/1", T0, True, 2, 3, "br")), id="telemetry-every-section"),
    pytest.param(TEL, {"vehicle_id": "uav-2", "time": T, "class": "car", "role": "target",
                       "fence": {"breached": False}},
                 (FenceStatus("br/uav-2", T0, False, 0, 0, "br"),), id="telemetry-fence-defaults"),
    pytest.param(TEL, {"vehicle_id": "uav-2", "time": T, "class": "car", "role": "target",
                       "position": {"lon": 1, "lat": 2}},
                 (obs("br/uav-2", "br", subject_class="car", lon=1.0, lat=2.0),), id="telemetry-target-position"),
    pytest.param(FRIGATE, frigate(),
                 (obs("frigate/gate/1772366370.1-abc", "frigate/gate", lon=10.25, lat=50.5, subject_class="person",
                      confidence=0.8, time=datetime(2026, 3, 1, 11, 59, 30, 500000, tzinfo=UTC)),),
                 id="frigate-new"),
    pytest.param(FRIGATE, frigate("update", score=None, label="License Plate"),
                 (obs("frigate/gate/1772366370.1-abc", "frigate/gate", lon=10.25, lat=50.5,
                      subject_class="license_plate", confidence=0.9,
                      time=datetime(2026, 3, 1, 11, 59, 30, 500000, tzinfo=UTC)),), id="frigate-update-top-score"),
    pytest.param(FRIGATE, frigate("end", end_time=1772366371.0), (), id="frigate-end-no-events"),
    pytest.param(FRIGATE, frigate("new", false_positive=True), (), id="frigate-false-positive-no-events"),
]


@pytest.mark.parametrize(("topic", "payload", "events"), ACCEPTED)
def test_accepted_exact_values(topic: str, payload: dict[str, Any], events: tuple[TelemetryEvent, ...]) -> None:
    result = parse(topic, payload)
    assert result == Accepted(events)
    assert all(e.time.tzinfo is UTC for e in result.events)


DEAD = [
    # topic, payload, substrings the reason must contain
    pytest.param(POS, b"", ["bad JSON: Expecting value"], id="empty"),
    pytest.param(POS, b'{"subject_id": "t7",', ["bad JSON:"], id="truncated-json"),
    pytest.param(POS, b"\xff\xfe{}", ["bad JSON: not UTF-8", "byte 0"], id="not-utf8"),
    pytest.param(POS, b"[1, 2]", ["not an object: the payload is a JSON array"], id="array"),
    pytest.param(DET, b'"text"', ["not an object: the payload is a JSON string; det.v1"], id="string"),
    pytest.param(TEL, b"null", ["not an object: the payload is a JSON null"], id="null"),
    pytest.param(FRIGATE, b"42", ["not an object: the payload is a JSON integer; Frigate"], id="frigate-number"),
    pytest.param(POS, b'{"subject_id": "t7", "time": "' + T.encode() + b'", "lon": NaN, "lat": 1}',
                 ["bad JSON: NaN is not a JSON number"], id="nan"),
    pytest.param(POS, b'{"lon": Infinity}', ["bad JSON: Infinity is not"], id="infinity"),
    pytest.param(POS, b'{"lat": -Infinity}', ["bad JSON: -Infinity is not"], id="minus-infinity"),
    pytest.param(POS, b'{"lat": 1e400}', ["bad JSON: the number 1e400 is out of range"], id="float-overflow"),
    pytest.param(POS, b'{"lat": ' + b"9" * 500 + b"}", ["bad JSON: an integer of 500 digits"], id="huge-int"),
    pytest.param(POS, b"[" * 20 + b"]" * 20, ["bad JSON: nested deeper than 16"], id="deep-nesting"),
    pytest.param(POS, b"[" * 50_000, ["too large: 50000 bytes", "max_payload_bytes (1024)"], id="huge-payload"),
    pytest.param(POS, {k: v for k, v in pos().items() if k != "lat"},
                 ["schema pos.v1: $: 'lat' is a required property"], id="missing-field"),
    pytest.param(POS, pos(speed=3), ["schema pos.v1: $: Additional properties", "'speed' was unexpected"],
                 id="unknown-field"),
    pytest.param(POS, pos(lat="50.25"), ["schema pos.v1: $.lat: expected number, got string"], id="lat-as-string"),
    pytest.param(POS, pos(lon=True), ["schema pos.v1: $.lon: expected number, got boolean"], id="lon-as-bool"),
    pytest.param(POS, pos(alt_m=[1]), ["schema pos.v1: $.alt_m: expected number or null, got array"],
                 id="alt-as-array"),
    pytest.param(POS, pos(subject_id=7), ["schema pos.v1: $.subject_id: expected string, got integer"],
                 id="id-as-int"),
    pytest.param(POS, pos(time=1772366370), ["schema pos.v1: $.time: expected string, got integer"],
                 id="time-as-number"),
    pytest.param(POS, pos(role="friend"), ["schema pos.v1: $.role: 'friend' is not one of"], id="bad-role"),
    pytest.param(POS, pos(**{"class": "Car"}), ["schema pos.v1: $.class: 'Car' does not match"], id="class-case"),
    pytest.param(POS, pos(subject_id="a\u0000b"), ["schema pos.v1: $.subject_id:"], id="id-control-char"),
    pytest.param(POS, pos(subject_id="a\u202eb"), ["bad id: $.subject_id contains the unprintable character U+202E"],
                 id="id-bidi-override"),
    pytest.param(POS, pos(heading_deg=360), ["schema pos.v1: $.heading_deg: 360 is greater than or equal to"],
                 id="heading-360"),
    pytest.param(POS, pos(confidence=1.5), ["schema pos.v1: $.confidence: 1.5 is greater than the maximum of 1"],
                 id="confidence"),
    pytest.param(POS, pos(lat=95), ["schema pos.v1: $.lat: 95 is greater than the maximum of 90"], id="lat-range"),
    pytest.param(POS, pos(lon=-180.5), ["schema pos.v1: $.lon: -180.5 is less than the minimum of -180"],
                 id="lon-range"),
    pytest.param(DET, det(person(lon=200)), ["schema det.v1: $.detections[0].lon: 200 is greater than"],
                 id="det-lon-range"),
    pytest.param(TEL, {"vehicle_id": 1, "time": T, "position": {"lon": 1, "lat": -91}},
                 ["schema telemetry.v1: $.position.lat: -91 is less than the minimum of -90"], id="tel-lat-range"),
    pytest.param(POS, pos(lon=0, lat=0), ["no position: $ lon/lat is 0,0"], id="null-island"),
    pytest.param(POS, pos(time="2026-03-01T12:05:01Z"),
                 ["time in the future: $.time is 2026-03-01T12:05:01+00:00, 301 s ahead", "max_future_s is 300"],
                 id="future"),
    pytest.param(POS, pos(time="9999-12-31T23:59:59-12:00"), ["time in the future: $.time"], id="far-future"),
    pytest.param(POS, pos(time="1999-12-31T23:59:59Z"), ["time before 2000: $.time is 1999-12-31T23:59:59"],
                 id="before-2000"),
    pytest.param(POS, pos(time="0001-01-01T00:00:00+05:00"), ["time before 2000"], id="year-one-with-offset"),
    pytest.param(POS, pos(time="2026-03-01T11:59:30"), ["missing timezone: $.time '2026-03-01T11:59:30' has no Z"],
                 id="no-timezone"),
    pytest.param(POS, pos(time="2026-03-01"), ["bad time: $.time '2026-03-01' is not an RFC 3339"], id="date-only"),
    pytest.param(POS, pos(time="2026-02-30T00:00:00Z"), ["bad time: $.time '2026-02-30T00:00:00Z'", "day"],
                 id="no-such-day"),
    pytest.param(POS, pos(time="2026-03-01T23:59:60Z"), ["bad time:"], id="leap-second"),
    pytest.param("routewatch/v2/pos/gps", pos(), ["unknown topic: 'routewatch/v2/pos/gps' is none of",
                                                  "routewatch/v1/pos/<name>", "frigate/events"], id="topic-version"),
    pytest.param("sensors/gps", pos(), ["unknown topic: 'sensors/gps'"], id="topic-foreign"),
    pytest.param("routewatch/v1/pos/", pos(), ["unknown topic:", "must be a name of 1-64"], id="topic-empty-name"),
    pytest.param("routewatch/v1/pos/a/b", pos(), ["unknown topic:", "without '/'"], id="topic-too-deep"),
    pytest.param("routewatch/v1/alerts/enter", pos(), ["unknown topic:"], id="topic-our-own-alerts"),
    pytest.param(DET, det(person(), {"track_id": "2", "class": "person", "bbox_px": [10, 20, 30, 60]}),
                 ["pixel detection: $.detections[1] has bbox_px but no lon/lat",
                  "camera 'cam1' has no calibration here", "kind fixed with gcps"], id="pixel-detection"),
    pytest.param(DET, det({"track_id": "2", "class": "person"}),
                 ["schema det.v1: $.detections[0]: needs lon+lat or bbox_px"], id="det-no-position"),
    pytest.param(DET, det({"track_id": "2", "class": "person", "lon": 1.0, "bbox_px": [1, 2, 3, 4]}),
                 ["schema det.v1: $.detections[0]: 'lat' is a dependency of 'lon'"], id="det-lon-without-lat"),
    pytest.param(DET, det(person(confidence="high")),
                 ["schema det.v1: $.detections[0].confidence: expected number, got string"], id="det-wrong-type"),
    pytest.param(TEL, {"vehicle_id": 1, "time": T}, ["schema telemetry.v1: $: needs position or attitude or status"],
                 id="tel-no-section"),
    pytest.param(TEL, {"vehicle_id": 1, "time": T, "fence": {"breached": True, "breach_count": 1.5}},
                 ["schema telemetry.v1: $.fence.breach_count: expected integer, got number"], id="tel-float-count"),
    pytest.param(TEL, {"vehicle_id": 1, "time": T, "status": {"vehicle_type": "quadrotor", "mode": "AUTO",
                                                               "armed": "yes"}},
                 ["schema telemetry.v1: $.status.armed: expected boolean, got string"], id="tel-armed-string"),
    pytest.param(FRIGATE, frigate(camera="backyard"),
                 ["unmapped camera: Frigate camera 'backyard' is not in mqtt.input.frigate_cameras (mapped: gate)"],
                 id="frigate-unmapped-camera"),
    pytest.param(FRIGATE, frigate("end", camera="backyard"), ["unmapped camera"], id="frigate-unmapped-end"),
    pytest.param(FRIGATE, {"type": "new"}, ["schema frigate event: $: 'after' is a required property"],
                 id="frigate-no-after"),
    pytest.param(FRIGATE, frigate("gone"), ["schema frigate event: $.type: 'gone' is not one of"],
                 id="frigate-bad-type"),
    pytest.param(FRIGATE, frigate(frame_time=1772367000.0), ["time in the future: $.after.frame_time"],
                 id="frigate-future"),
    pytest.param(FRIGATE, frigate(frame_time=900000000.0), ["time before 2000: $.after.frame_time"],
                 id="frigate-before-2000"),
    pytest.param(FRIGATE, frigate(frame_time=10**30), ["schema frigate event: $.after.frame_time"],
                 id="frigate-absurd-time"),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), DEAD)
def test_dead_letter_reasons(topic: str, payload: bytes | dict[str, Any], reason: list[str]) -> None:
    result = parse(topic, payload)
    assert isinstance(result, DeadLetter), result
    for part in reason:
        assert part in result.reason, result.reason
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    assert (result.topic, result.received_at, result.size_bytes) == (topic, RECEIVED, len(raw))
    assert len(result.reason) < 400


def test_dead_letter_keeps_the_first_200_bytes_decoded_with_replacement() -> None:
    payload = b"\xff" + b"x" * 198 + "é".encode() + b"tail" * 100  # é straddles byte 200
    result = parse(POS, payload)
    assert isinstance(result, DeadLetter)
    assert result.payload_excerpt == "\ufffd" + "x" * 198 + "\ufffd"
    assert result.size_bytes == len(payload) == 601


def test_never_raises_a_bug_becomes_an_internal_dead_letter() -> None:
    naive_now = datetime(2026, 3, 1, 12, 0)  # comparing it with aware times fails inside
    result = parse_message(InboundMessage(POS, json.dumps(pos()).encode(), RECEIVED), CFG, now=naive_now)
    assert isinstance(result, DeadLetter) and result.reason.startswith("internal: TypeError")


def test_max_future_and_payload_limits_come_from_config() -> None:
    strict = CFG.model_copy(update={"max_future_s": 0.0, "max_payload_bytes": 256})
    assert isinstance(parse(POS, pos(time="2026-03-01T12:00:01Z"), strict), DeadLetter)
    assert isinstance(parse(POS, pos(time="2026-03-01T12:00:00Z"), strict), Accepted)
    big = pos(subject_id="x" * 128, alt_m=1.5, speed_m_s=2.5, heading_deg=3.5, accuracy_m=4.5)
    size = len(json.dumps(big).encode())
    assert size > 256 and parse(POS, big) == Accepted((obs("gps/" + "x" * 128, "gps", alt_m=1.5, speed_m_s=2.5,
                                                           heading_deg=3.5, accuracy_m=4.5),))
    assert parse(POS, big, strict) == DeadLetter(
        POS, f"too large: {size} bytes, more than mqtt.input.max_payload_bytes (256)", json.dumps(big)[:200],
        RECEIVED, size)


def test_time_zone_offsets_become_utc() -> None:
    result = parse(POS, pos(time="2026-03-01T06:29:30-05:30"))
    assert isinstance(result, Accepted)
    assert result.events[0].time == T0 and result.events[0].time.utcoffset() == timedelta(0)


def test_dead_letter_helper() -> None:
    msg = InboundMessage("t", b"abc", RECEIVED, token=3)
    assert dead_letter(msg, "why") == DeadLetter("t", "why", "abc", RECEIVED, 3)


# --- the schemas ----------------------------------------------------------------------------------


def _properties(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    out = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            out.append((f"{path}.{name}", sub))
        for key, sub in node.items():
            out += _properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            out += _properties(sub, f"{path}[{i}]")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_documented_and_closed(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False and schema["description"]
    props = _properties(schema)
    assert len(props) >= 4
    undocumented = [p for p, sub in props if not sub.get("description")]
    assert undocumented == []
    assert validator(name) is validator(name)  # compiled once


def test_unknown_schema_name() -> None:
    with pytest.raises(KeyError, match=r"unknown schema 'pos\.v2'"):
        load_schema("pos.v2")


OWN_FORMAT_EXAMPLES = [p for p in ACCEPTED if p.values[0] != FRIGATE and isinstance(p.values[1], dict)]


@pytest.mark.parametrize(("topic", "payload", "events"), OWN_FORMAT_EXAMPLES)
def test_accepted_examples_validate_against_the_shipped_schema(topic: str, payload: dict[str, Any],
                                                               events: tuple[TelemetryEvent, ...]) -> None:
    kind = topic.split("/")[2]
    assert validator(f"{kind}.v1").is_valid(payload)


# A calibrated fixed camera: 10 px per metre, image v grows southward, the image origin at FRAME (0, 100 m).
FRAME = LocalFrame(10.5, 50.25)


CAL = Calibration.from_gcps([GroundControlPoint(u, v, *FRAME.lonlat(u / 10.0, 100.0 - v / 10.0))
                             for u, v in ((0, 0), (640, 0), (640, 480), (0, 480), (320, 240))], max_error_m=0.5)


# The camera as `run` knows it: a 640 x 480 image, placed within 100 m of the area its GCPs span.
CAM1 = PixelToGround(CAL.to_ground, (640, 480), CAL.outside_m, 100.0)
NO_SIZE = PixelToGround(CAL.to_ground, None, CAL.outside_m, 100.0)


@pytest.mark.parametrize(("box", "want_xy", "reason", "cam"), [
    ([300, 100, 340, 200], (32.0, 80.0), None, CAM1),  # bottom centre (320, 200) -> 32 m east, 80 m north
    ([0, 0, 10, 480], (0.5, 52.0), None, CAM1),
    ([630, 470, 640, 480], (63.5, 52.0), None, CAM1),  # the image's bottom right corner is still in it
    ([30, 40, 20, 60], None, "bad box: $.detections[0].bbox_px [30, 40, 20, 60] needs x_min < x_max", CAM1),
    ([10, 60, 30, 60], None, "needs x_min < x_max and y_min < y_max", CAM1),
    ([0, 0, 1e308, 1e308], None, "outside the image: $.detections[0].bbox_px [0, 0, 1e+308, 1e+308] reaches "
     "beyond the 640 x 480 px image of camera 'cam1'", CAM1),
    ([600, 400, 641, 470], None, "outside the image", CAM1),
    ([100, 400, 200, 481], None, "outside the image", CAM1),
    # without a known image size, the ground check still refuses what the calibration cannot vouch for
    ([0, 0, 1e308, 1e308], None, "m outside the area the ground control points of camera 'cam1' "
     "span (cameras[].ground_margin_m is 100)", NO_SIZE),
    ([300, 100, 340, 2481], None, "beyond the calibration: $.detections[0].bbox_px bottom centre maps to", NO_SIZE),
    ([300, 100, 340, 1400], (32.0, -40.0), None, NO_SIZE),  # 92 m south of the GCPs: within the margin
    ([-1e3, 100, 340, 200], None, "schema det.v1", NO_SIZE),
])
def test_pixel_detections_are_placed_through_the_camera_calibration(box, want_xy, reason, cam):
    raw = json.dumps(det({"track_id": "2", "class": "person", "bbox_px": box})).encode()
    res = parse_message(InboundMessage(DET, raw, RECEIVED, token=7), CFG, now=NOW, ground={"cam1": cam})
    if reason is not None:
        assert isinstance(res, DeadLetter) and reason in res.reason
        return
    assert isinstance(res, Accepted)
    (o,) = res.events
    assert isinstance(o, Observation) and o.subject_id == "cam1/2" and o.source == "cam1" and o.time == T0
    x, y = FRAME.xy(o.lon, o.lat)
    assert abs(x - want_xy[0]) < 0.05 and abs(y - want_xy[1]) < 0.05


# The same camera with its accuracy: 10 px per metre, exact GCPs, so a 2 px box error is 0.2 m on the ground.
CAM1_ACC = PixelToGround(CAL.to_ground, (640, 480), CAL.outside_m, 100.0,
                         lambda u, v: CAL.accuracy_m(u, v, pixel_error_px=2.0))


@pytest.mark.parametrize(("detection", "cam", "accuracy"), [
    ({"bbox_px": [300, 100, 340, 200]}, CAM1_ACC, 0.2),  # from the calibration
    ({"bbox_px": [300, 100, 340, 200], "accuracy_m": 3.5}, CAM1_ACC, 3.5),  # the publisher's own figure wins
    ({"bbox_px": [300, 100, 340, 200], "accuracy_m": None}, CAM1_ACC, 0.2),
    ({"bbox_px": [300, 100, 340, 200]}, CAM1, None),  # a calibration that gives no accuracy
    ({"lon": 10.5, "lat": 50.25}, CAM1_ACC, None),  # placed by the publisher: nothing to derive
    ({"lon": 10.5, "lat": 50.25, "accuracy_m": 12.0}, CAM1_ACC, 12.0),
])
def test_pixel_detections_get_their_accuracy_from_the_calibration(detection, cam, accuracy):
    raw = json.dumps(det({"track_id": "2", "class": "person", **detection})).encode()
    res = parse_message(InboundMessage(DET, raw, RECEIVED, token=7), CFG, now=NOW, ground={"cam1": cam})
    assert isinstance(res, Accepted)
    (o,) = res.events
    assert isinstance(o, Observation)
    assert o.accuracy_m == (None if accuracy is None else pytest.approx(accuracy, rel=1e-6))


def test_pixel_detection_above_the_horizon_and_of_another_camera_are_refused():
    raw = json.dumps(det({"track_id": "2", "class": "person", "bbox_px": [1, 1, 5, 5]})).encode()
    res = parse_message(InboundMessage(DET, raw, RECEIVED, token=7), CFG, now=NOW,
                        ground={"cam1": PixelToGround(lambda u, v: None)})
    assert isinstance(res, DeadLetter) and "off the ground" in res.reason and "horizon" in res.reason
    res = parse_message(InboundMessage(DET, raw, RECEIVED, token=7), CFG, now=NOW, ground={"cam2": CAM1})
    assert isinstance(res, DeadLetter) and "camera 'cam1' has no calibration here" in res.reason
