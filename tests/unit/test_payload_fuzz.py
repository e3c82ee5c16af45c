"""Fuzz: 100,000 mutated MQTT payloads and 100,000 mutated MAVLink frames; no crash, every one accounted for.

Deterministic (fixed seeds). Mutations start from valid inputs of every kind: byte flips, truncation,
insertion, deletion, JSON type swaps, huge numbers, deep nesting, wrong topics, oversize payloads.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.mavlink import MavlinkDecoder, TlogWriter
from routewatch.ingest.mavlink.writer import MAV_TYPE_GCS
from routewatch.ingest.mqtt.payloads import Accepted, parse_message
from routewatch.model import DeadLetter, InboundMessage, Observation, TelemetryEvent

N_PAYLOADS = 100_000
N_FRAMES = 100_000
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = "2026-03-01T11:59:30Z"
CFG = MqttInputConfig(frigate_topic="frigate/events", frigate_cameras={"gate": (10.0, 50.0)},
                      max_payload_bytes=8192, max_future_s=300)
RAW = "\x00raw\x00"  # a string value replaced by raw JSON text after dumping

SEEDS: list[tuple[str, dict[str, Any]]] = [
    ("routewatch/v1/pos/gps", {"subject_id": "t7", "time": T, "lon": 10.5, "lat": 50.25}),
    ("routewatch/v1/pos/gps", {"subject_id": "t8", "class": "car", "role": "patrol",
                               "time": "2026-03-01T12:59:30+01:00", "lon": -3.5, "lat": -40.0, "alt_m": 12.5,
                               "speed_m_s": 3.0, "heading_deg": 359.5, "accuracy_m": 4.0, "confidence": 0.75}),
    ("routewatch/v1/det/cam1", {"time": T, "detections": [
        {"track_id": "1", "class": "person", "confidence": 0.9, "lon": 10.0, "lat": 50.0, "bbox_px": [1, 2, 30, 40]},
        {"track_id": "2", "class": "car", "lon": 10.001, "lat": 50.001, "alt_m": None, "heading_deg": 90}]}),
    ("routewatch/v1/det/cam2", {"time": T, "detections": [
        {"track_id": "9", "class": "person", "bbox_px": [0, 0, 5, 5]}]}),
    ("routewatch/v1/telemetry/bridge", {"vehicle_id": 1, "time": T,
                                        "position": {"lon": 10.0, "lat": 50.0, "alt_m": 100.0, "speed_m_s": 12.0},
                                        "attitude": {"roll_deg": 1.0, "pitch_deg": -2.0, "yaw_deg": 270.0},
                                        "status": {"vehicle_type": "quadrotor", "mode": "AUTO", "armed": True},
                                        "fence": {"breached": False, "breach_count": 0, "breach_type": 0}}),
    ("routewatch/v1/telemetry/bridge", {"vehicle_id": "uav-2", "time": T, "status": {
        "vehicle_type": "fixed_wing", "mode": "RTL", "armed": False}}),
    ("frigate/events", {"type": "new", "before": {}, "after": {
        "id": "1772366370.5-abc", "camera": "gate", "label": "person", "frame_time": 1772366370.5, "score": 0.8,
        "top_score": 0.9, "false_positive": False, "box": [1, 2, 3, 4], "current_zones": ["road"]}}),
    ("frigate/events", {"type": "end", "after": {"id": "x", "camera": "gate", "label": "car",
                                                "frame_time": 1772366370.0}}),
    ("frigate/events", {"type": "update", "after": {"id": "y", "camera": "yard", "label": "car",
                                                   "frame_time": 1772366370.0}}),
]
TOPICS = ["routewatch/v1/pos/x", "routewatch/v1/det/x", "routewatch/v1/telemetry/x", "frigate/events",
          "routewatch/v2/pos/x", "routewatch/v1/pos/", "routewatch/v1/pos/a/b", "other", ""]
TOKENS = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0",
          b"\\u0000", b"\\ud800", b"\xff", b"\x00", b"null", b"true", b"9" * 500, b"\xef\xbb\xbf"]
VALUES: list[Any] = [None, True, False, 0, -1, 1.5, 1e308, -1e308, 2**64, "", "x" * 300, "2099-01-01T00:00:00Z",
                     "1999-12-31T23:59:59Z", "2026-03-01T11:59:30", "2026-02-30T00:00:00Z", "yesterday", [], {},
                     [1, 2, 3, 4], {"a": 1}, "\u0000", "\ud800", 400, -400, 0.0]
RAW_VALUES = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 350, b"1" * 5000, b"1." + b"5" * 2000]


def _paths(doc: Any) -> list[tuple[Any, Any]]:
    out, stack = [], [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            out.append((node, key))
            stack.append(value)
    return out


def _json_mutation(rng: random.Random, doc: dict[str, Any]) -> bytes:
    doc = json.loads(json.dumps(doc))
    paths = _paths(doc)
    node, key = rng.choice(paths)
    op = rng.randrange(6)
    raw = b""
    if op == 0:
        node[key] = rng.choice(VALUES)
    elif op == 1:
        node[key], raw = RAW, rng.choice(RAW_VALUES)
    elif op == 2:
        depth = rng.choice([2, 15, 17, 100, 1000, 3000])
        node[key], raw = RAW, b"[" * depth + b"1" + b"]" * depth
    elif op == 3:
        del node[key]
    elif op == 4 and isinstance(node, dict):
        node[rng.choice(["extra", "lon", "lat", "time", "detections", "after"])] = rng.choice(VALUES)
    else:
        node[key] = {"k": node[key]} if rng.random() < 0.5 else [node[key]]
    text = json.dumps(doc).encode()
    return text.replace(json.dumps(RAW).encode(), raw, 1) if raw else text


def _byte_mutation(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    op = rng.randrange(6)
    if op == 0:
        for _ in range(rng.randint(1, 4)):
            if buf:
                buf[rng.randrange(len(buf))] ^= rng.randint(1, 255)
    elif op == 1:
        del buf[rng.randrange(len(buf) + 1):]
    elif op == 2:
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = rng.choice(TOKENS) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 8))
    elif op == 3:
        at = rng.randrange(len(buf) + 1)
        del buf[at: at + rng.randint(1, 16)]
    elif op == 4:
        buf += bytes(buf)
    else:
        return rng.randbytes(rng.randint(0, 64))
    return bytes(buf)


def _payloads(rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    out = []
    for _ in range(n):
        topic, doc = rng.choice(SEEDS)
        r = rng.random()
        if r < 0.15:
            payload = json.dumps(doc).encode()
        elif r < 0.55:
            payload = _json_mutation(rng, doc)
        elif r < 0.99:
            payload = _byte_mutation(rng, json.dumps(doc).encode())
        else:
            payload = json.dumps(doc).encode()[:-1] + b" " * CFG.max_payload_bytes + b"}"
        if rng.random() < 0.05:
            topic = rng.choice(TOPICS)
        out.append((topic, payload))
    return out


def _check_event(event: TelemetryEvent) -> None:
    assert event.time.tzinfo is UTC
    assert datetime(2000, 1, 1, tzinfo=UTC) <= event.time <= NOW + timedelta(seconds=CFG.max_future_s)
    if isinstance(event, Observation):
        assert -180 <= event.lon <= 180 and -90 <= event.lat <= 90 and math.isfinite(event.lon + event.lat)
        assert event.subject_id.isprintable() and 0 <= event.confidence <= 1


def test_fuzz_mqtt_payloads_each_accepted_or_dead_lettered() -> None:
    rng = random.Random(20260301)
    accepted = dead = events = 0
    reasons: Counter[str] = Counter()
    for topic, payload in _payloads(rng, N_PAYLOADS):
        result = parse_message(InboundMessage(topic, payload, NOW), CFG, now=NOW)
        if isinstance(result, Accepted):
            accepted += 1
            events += len(result.events)
            for event in result.events:
                _check_event(event)
        else:
            assert isinstance(result, DeadLetter)
            dead += 1
            reasons[result.reason.split(":")[0]] += 1
            assert result.topic == topic and result.size_bytes == len(payload)
            assert result.payload_excerpt == payload[:200].decode("utf-8", errors="replace")
    assert accepted + dead == N_PAYLOADS
    assert "internal" not in reasons, reasons  # every rejection has a specific reason
    assert accepted > N_PAYLOADS // 10 and events > accepted // 2
    expected = {"bad JSON", "not an object", "too large", "unknown topic", "time in the future", "time before 2000",
                "missing timezone", "bad time", "pixel detection", "unmapped camera", "bad id"}
    assert expected <= set(reasons), sorted(reasons)
    assert {"schema pos.v1", "schema det.v1", "schema telemetry.v1", "schema frigate event"} <= set(reasons)


# --- MAVLink ------------------------------------------------------------------------------------

RECV = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _frames() -> list[bytes]:
    """One valid frame of every kind the decoder reads (and some it skips), MAVLink 1, 2 and signed."""
    frames = []
    for w in (TlogWriter(False), TlogWriter(True), TlogWriter(True, sign_key=bytes(range(32)))):
        frames += [
            w.heartbeat(RECV, 1),
            w.heartbeat(RECV, 255, MAV_TYPE_GCS),
            w.gps_raw_int(RECV, 1, 3, 50.0, 10.0, 100.0),
            w.global_position_int(RECV, 1, 50.0, 10.0, 100.0, 10.0, 3.0, 4.0, 0.0, 90.0),
            w.attitude(RECV, 1, 10.0, -5.0, 270.0),
            w.system_time(RECV, 1, RECV),
            w.fence_status(RECV, 1, True, 2, 3),
            w.adsb_vehicle(RECV, 1, 0xABCDEF, 50.1, 10.1, 1000.0, 90.0, 70.0, "TEST1"),
            w.open_drone_id_location(RECV, 1, "DRONE-1", 50.2, 10.2, 50.0, 45.0, 5.0),
            w.radio_status(RECV),
            w.custom(RECV, 1, 60000, b"\x01\x02\x03"),
        ]
    return frames


def _frame_mutation(rng: random.Random, frames: list[bytes]) -> bytes:
    data = bytearray(rng.choice(frames))
    op = rng.randrange(8)
    if op == 0:
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= rng.randint(1, 255)
    elif op == 1:
        del data[rng.randint(1, len(data) - 1):]
    elif op == 2:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.randbytes(rng.randint(1, 12))
    elif op == 3:
        data[1] = rng.randrange(256)  # a lying length byte
    elif op == 4:
        data += rng.choice(frames)[: rng.randint(1, 20)]
    elif op == 5:
        data = bytearray(rng.randbytes(rng.randint(1, 80)))
    elif op == 6:
        data = bytearray(rng.randbytes(rng.randint(0, 6))) + data + rng.choice(frames)
    # op 7: the frame as it was
    return bytes(data)


def test_fuzz_mavlink_frames_each_decoded_or_counted() -> None:
    rng = random.Random(1403)
    frames = _frames()
    dec = MavlinkDecoder("fuzz")
    st = dec.stats
    decoded = dropped = events = total_bytes = 0
    for _ in range(N_FRAMES):
        data = _frame_mutation(rng, frames)
        total_bytes += len(data)
        before = (st.messages - st.bad_crc - st.bad_frame - st.unknown_id, st.bad_crc + st.bad_frame + st.unknown_id
                  + st.truncated + st.resync_bytes)
        out = dec.feed(data, RECV)
        dec.reset()  # each input stands alone: a partial packet left over is counted as truncated
        good = st.messages - st.bad_crc - st.bad_frame - st.unknown_id - before[0]
        bad = st.bad_crc + st.bad_frame + st.unknown_id + st.truncated + st.resync_bytes - before[1]
        assert good > 0 or bad > 0, f"input left no trace: {data.hex()}"
        if good > 0:
            decoded += 1
        else:
            dropped += 1
        events += len(out)
        for event in out:
            assert event.time == RECV
            if isinstance(event, Observation):
                assert -180 <= event.lon <= 180 and -90 <= event.lat <= 90
    assert decoded + dropped == N_FRAMES
    assert st.bytes_in == total_bytes
    assert decoded > N_FRAMES // 4 and dropped > N_FRAMES // 10 and events > N_FRAMES // 10


def test_fuzz_mavlink_stream_in_random_chunks() -> None:
    """The same kind of inputs back to back, cut at random points, as a serial link delivers them."""
    rng = random.Random(77)
    frames = _frames()
    stream = b"".join(_frame_mutation(rng, frames) if rng.random() < 0.3 else rng.choice(frames)
                      for _ in range(20_000))
    dec = MavlinkDecoder("stream")
    ofs = events = 0
    while ofs < len(stream):
        step = rng.randint(1, 300)
        events += len(dec.feed(stream[ofs: ofs + step], RECV))
        ofs += step
    assert dec.stats.bytes_in == len(stream)
    assert dec.stats.decoded > 10_000 and events > 5_000
