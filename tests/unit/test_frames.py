"""Camera frames on MQTT (frame.v1) -> checked JPEG frames or dead letters; camera urls; the frame queue."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from routewatch.cameras.runtime import FrameQueue
from routewatch.config.cameras import CameraConfig, camera_source
from routewatch.config.mqtt import MqttInputConfig
from routewatch.config.schema import Settings
from routewatch.ingest.mqtt.frames import MAX_SIDE_PX, JpegFrame, jpeg_dimensions, parse_frame
from routewatch.ingest.mqtt.receive import to_delivery
from routewatch.model import DeadLetter, InboundMessage
from routewatch.schemas import validator
from routewatch.tracking.sampler import Sampler

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = "2026-03-01T11:59:30.200Z"
CFG = MqttInputConfig(enabled=True, max_frame_bytes=20_000, max_future_s=300)
TOPIC = "routewatch/v1/frames/gate"
GCPS = [(0.0, 0.0, 10.0, 50.0), (100.0, 0.0, 10.001, 50.0), (100.0, 100.0, 10.001, 49.999),
        (0.0, 100.0, 10.0, 49.999)]


def _jpeg(w: int = 64, h: int = 48) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((h, w, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


JPEG = _jpeg()
B64 = base64.b64encode(JPEG).decode()


def _sof(w: int, h: int) -> bytes:
    """A minimal JPEG whose frame header declares w x h (no image data)."""
    return (b"\xff\xd8\xff\xc0\x00\x0b\x08" + h.to_bytes(2, "big") + w.to_bytes(2, "big")
            + b"\x01\x01\x11\x00\xff\xd9")


def frame(**fields: Any) -> dict[str, Any]:
    return {"time": T, "jpeg": B64, **fields}


def parse(payload: bytes | dict[str, Any], topic: str = TOPIC, cameras: tuple[str, ...] = ("gate",)
          ) -> JpegFrame | DeadLetter:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_frame(InboundMessage(topic, raw, NOW, token=3), CFG, cameras, now=NOW)


def test_a_good_frame():
    got = parse(frame(seq=41, width_px=64, height_px=48))
    assert got == JpegFrame("gate", datetime(2026, 3, 1, 11, 59, 30, 200000, tzinfo=UTC), JPEG, 64, 48, TOPIC, NOW,
                            41)
    assert validator("frame.v1").is_valid(frame(seq=41, width_px=64, height_px=48))


@pytest.mark.parametrize(("payload", "topic", "reason"), [
    (b"", TOPIC, "empty: no payload"),
    (b"   ", TOPIC, "bad JSON:"),
    (b"[1, 2]", TOPIC, "not an object:"),
    (frame(jpeg="not base64!!"), TOPIC, "bad base64: $.jpeg"),
    (frame(jpeg="QUJ"), TOPIC, "bad base64: $.jpeg"),  # bad padding
    (frame(jpeg=base64.b64encode(b"GIF89a" + b"\0" * 40).decode()), TOPIC, "not a JPEG: $.jpeg: does not start"),
    (frame(jpeg=base64.b64encode(JPEG[: len(JPEG) // 2]).decode()), TOPIC, "not a JPEG: $.jpeg: truncated"),
    (frame(jpeg=base64.b64encode(_sof(MAX_SIDE_PX + 1, 10)).decode()), TOPIC, "not a JPEG: $.jpeg: image of 8193"),
    (frame(jpeg=base64.b64encode(_sof(0, 10)).decode()), TOPIC, "not a JPEG: $.jpeg: image of 0 x 10"),
    # A small file claiming 8000 x 8000: refused before anything is decoded (it would be 192 MB).
    (frame(jpeg=base64.b64encode(_sof(8000, 8000)).decode()), TOPIC, "too many pixels: 8000 x 8000"),
    (frame(jpeg="A" * 30_000), TOPIC, "too large: 30"),
    ({"jpeg": B64}, TOPIC, "schema frame.v1: $: 'time' is a required property"),
    ({"time": T}, TOPIC, "schema frame.v1: $: 'jpeg' is a required property"),
    (frame(jpeg=""), TOPIC, "schema frame.v1: $.jpeg"),
    (frame(extra=1), TOPIC, "schema frame.v1: $: Additional properties"),
    (frame(seq=-1), TOPIC, "schema frame.v1: $.seq"),
    (frame(time="2026-03-01T11:59:30"), TOPIC, "missing timezone: $.time"),
    (frame(time="yesterday"), TOPIC, "bad time: $.time"),
    (frame(time="2026-03-01T13:00:00Z"), TOPIC, "time in the future: $.time"),
    (frame(time="1999-12-31T23:59:59Z"), TOPIC, "time before 2000: $.time"),
    (frame(width_px=65), TOPIC, "size mismatch: $.width_px is 65 but the JPEG's header says 64"),
    (frame(), "routewatch/v1/frames/yard", "unknown camera: 'yard' is not a camera with `url: mqtt`"),
    (frame(), "routewatch/v1/frames/", "unknown topic:"),
    (frame(), "routewatch/v1/frames/gate/extra", "unknown topic:"),
])
def test_bad_frames_are_dead_letters_with_a_reason(payload, topic, reason):
    got = parse(payload, topic)
    assert isinstance(got, DeadLetter), got
    assert got.reason.startswith(reason), got.reason
    assert got.topic == topic and got.received_at == NOW


@pytest.mark.parametrize(("data", "result"), [
    (_jpeg(64, 48), (64, 48)),
    (_jpeg(1, 1), (1, 1)),
    (_sof(3, 2), (3, 2)),
    (_sof(3, 2) + b"\0\0\0", (3, 2)),  # padding after EOI
    (b"", "does not start"),
    (b"\xff\xd8\xff", "truncated"),
    (b"\xff\xd8\xff\xe0\x00\x01\xff\xd9", "length 1"),
    (b"\xff\xd8\xff\xe0\x00\x04ab\x00\x00\x00\xff\xd9", "no marker at byte 8"),
    (b"\xff\xd8\xff\xda\x00\x04ab\xff\xd9", "no frame header"),
])
def test_jpeg_dimensions(data, result):
    if isinstance(result, tuple):
        assert jpeg_dimensions(data) == result
    else:
        with pytest.raises(ValueError, match=result):
            jpeg_dimensions(data)


def test_frames_in_a_bus_batch_are_routed_and_acked_with_the_rest():
    seen: list[InboundMessage] = []

    def router(msg: InboundMessage) -> DeadLetter | None:
        seen.append(msg)
        return None if msg.topic == TOPIC else DeadLetter(msg.topic, "unknown camera: x", "", NOW)

    pos = json.dumps({"subject_id": "a", "time": T, "lon": 10.5, "lat": 50.25}).encode()
    msgs = [InboundMessage(TOPIC, b"{}", NOW, 1), InboundMessage("routewatch/v1/frames/x", b"{}", NOW, 2),
            InboundMessage("routewatch/v1/pos/gps", pos, NOW, 3)]
    d = to_delivery(msgs, CFG, NOW, router)
    assert [m.token for m in seen] == [1, 2]
    assert len(d.events) == 1 and [x.reason for x in d.dead] == ["unknown camera: x"] and d.tokens == (1, 2, 3)
    # Without a router (no camera takes MQTT frames), frames are dead letters that say so.
    d = to_delivery(msgs[:1], CFG, NOW)
    assert d.dead[0].reason.startswith("unknown camera: no camera takes frames from MQTT") and d.tokens == (1,)


@pytest.mark.parametrize(("url", "kind"), [
    ("rtsp://10.0.0.5:554/main", "stream"),
    ("rtsps://user:pw@cam.example/live", "stream"),
    ("http://127.0.0.1:8080/video.mjpg", "stream"),
    ("HTTPS://cam/stream", "stream"),
    ("0", "device"),
    ("99", "device"),
    ("mqtt", "mqtt"),
    ("gate.mp4", "file"),
    ("/data/videos/gate:2.avi", "file"),
    ("file:/data/gate.avi", "file"),
    ("C:\\videos\\gate.mp4", "file"),
    ("", "empty"),
    (" rtsp://x/y", "surrounding spaces"),
    ("100", "out of range 0-99"),
    ("udp://10.0.0.5:5000", "unsupported camera url scheme 'udp'"),
    ("rtmp://host/live", "unsupported camera url scheme 'rtmp'"),
    ("rtsp://", "needs a host"),
    ("http:///x", "needs a host"),
    ("rtsp://cam/a b", "needs a host and no spaces"),
    ("file:", "file: needs a path"),
    ("mqtt:gate", "unsupported camera url 'mqtt:gate'"),
])
def test_camera_urls(url, kind):
    if kind in ("stream", "device", "mqtt", "file"):
        assert camera_source(url) == kind
        assert CameraConfig(name="c", gcps=GCPS, url=url).url == url
    else:
        with pytest.raises(ValueError, match=kind):
            camera_source(url)
        with pytest.raises(ValidationError, match="url"):
            CameraConfig(name="c", gcps=GCPS, url=url)


@pytest.mark.parametrize(("tree", "message"), [
    ({"cameras": [{"name": "c", "gcps": GCPS, "url": "mqtt"}]}, "take frames from MQTT .*enable mqtt.input"),
    ({"cameras": [{"name": "c", "gcps": GCPS}, {"name": "c", "gcps": GCPS}]}, "duplicate camera name"),
    ({"cameras": [{"name": "c", "gcps": GCPS, "queue_frames": 0}]}, "queue_frames"),
    ({"cameras": [{"name": "c", "gcps": GCPS, "stale_s": 0}]}, "stale_s"),
    ({"mqtt": {"input": {"max_frame_bytes": 10}}}, "max_frame_bytes"),
])
def test_camera_settings_are_checked(tree, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(tree)


def test_mqtt_camera_with_mqtt_input_is_accepted():
    s = Settings.model_validate({"cameras": [{"name": "c", "gcps": GCPS, "url": "mqtt"}],
                                 "mqtt": {"input": {"enabled": True}}})
    assert s.cameras[0].url == "mqtt"


@pytest.mark.parametrize(("maxsize", "puts", "gets", "left", "dropped"), [
    (3, [], 0, [], 0),
    (3, [1, 2], 1, [2], 0),
    (3, [1, 2, 3, 4, 5], 0, [3, 4, 5], 2),
    (1, [1, 2, 3], 0, [3], 2),
    (2, [1, 2, 3, 4], 1, [4], 2),
])
def test_frame_queue_drops_the_oldest(maxsize, puts, gets, left, dropped):
    q: FrameQueue[int] = FrameQueue(maxsize)
    for p in puts:
        q.put(p)
    for _ in range(gets):
        q.get(0)
    q.close()
    rest = []
    while (item := q.get(0)) is not None:
        rest.append(item)
    assert rest == left and q.dropped == dropped and q.finished
    assert q.put_count == len(puts) == q.taken + q.dropped and q.high_water <= maxsize


def test_frame_queue_between_threads_counts_everything():
    q: FrameQueue[int] = FrameQueue(5)
    got: list[int] = []

    def consume() -> None:
        while (item := q.get(1.0)) is not None or not q.finished:
            if item is not None:
                got.append(item)

    th = threading.Thread(target=consume)
    th.start()
    for i in range(20_000):
        q.put(i)
    q.close()
    th.join()
    assert got == sorted(got) and got[-1] == 19_999
    assert q.put_count == 20_000 == len(got) + q.dropped and q.high_water <= 5


def test_queue_size_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        FrameQueue(0)


@pytest.mark.parametrize(("source_fps", "fps", "seconds"), [
    (20.0, 5.0, 10.0),
    (10.04, 5.0, 60.0),  # not a multiple: still 5 a second, not every third frame (3.35)
    (29.97, 5.0, 30.0),
    (5.0, 5.0, 10.0),
    (3.0, 5.0, 10.0),  # a slower source: every frame
    (30.0, 1.0, 10.0),
])
def test_sampler_keeps_fps_a_second_of_frame_time(source_fps, fps, seconds):
    s = Sampler(fps)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [i / source_fps for i in range(int(seconds * source_fps))]
    kept = [x for x in times if s.due(t0 + timedelta(seconds=x))]
    want = seconds * min(fps, source_fps)
    assert want - 1 <= len(kept) <= want + 1
    assert s.skipped == len(times) - len(kept)
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    # Never two frames of one slot: slot k spans k +- half a period, so only the first gap can be short.
    assert min(gaps) >= 0.5 / fps - 1e-9
    assert min(gaps[1:]) >= 1 / fps - 1 / source_fps - 1e-9


def test_sampler_skips_frames_going_back_in_time_and_refuses_bad_rates():
    s = Sampler(5.0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert [s.due(t0 + timedelta(seconds=x)) for x in (0.0, 1.0, 0.4, 1.0, 1.2)] == [True, True, False, False, True]
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="fps"):
            Sampler(bad)


def test_one_badly_stamped_frame_does_not_blind_the_sampler():
    s = Sampler(5.0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    at = [0.0, 0.2, 300.0, 0.4, 0.6, 0.8, 1.0]  # one frame stamped 300 s ahead (accepted by max_future_s)
    kept = [x for x in at if s.due(t0 + timedelta(seconds=x))]
    assert kept == at and s.restarts == 2  # into the future and back: both restart the slots
    assert not s.due(t0 + timedelta(seconds=1.05))  # the same slot as 1.0 is still skipped
