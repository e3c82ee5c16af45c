"""recording.mode (encode | copy | auto): what the settings accept, where copy can work, and boxes for copied frames."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from routewatch.config import ConfigError, parse_settings
from routewatch.config.recording import CameraRecordingConfig
from routewatch.model import Box
from routewatch.recording import streamcopy
from routewatch.recording.copyrecorder import why_not_copy
from routewatch.recording.streamcopy import BoxTimeline, CopyUnavailable, file_ms
from tests.kits.require import require_module

GCPS = [[0, 0, 10.0, 50.0], [100, 0, 10.001, 50.0], [100, 100, 10.001, 50.001], [0, 100, 10.0, 50.001]]
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def settings(url: str | None, recording: dict[str, Any]) -> Any:
    cam: dict[str, Any] = {"name": "gate", "gcps": GCPS, "recording": {"enabled": True, **recording}}
    if url is not None:
        cam["url"] = url
    mqtt = {"mqtt": {"input": {"enabled": True}}} if url == "mqtt" else {}
    return parse_settings({"cameras": [cam], **mqtt})


MODES = [
    # (url, recording settings, error the user sees or None)
    ("mqtt", {"mode": "copy"}, "cameras[0]: recording.mode: copy keeps a video file's or an RTSP/HTTP "
     "stream's own encoded video, but this camera gets JPEG frames from MQTT: use mode encode (or auto)"),
    ("3", {"mode": "copy"}, "but this camera gets decoded frames from a capture device: use mode encode (or auto)"),
    ("mqtt", {"mode": "auto"}, None),
    ("3", {"mode": "auto"}, None),
    ("mqtt", {}, None),
    ("rtsp://10.0.0.5:554/main", {"mode": "copy"}, None),
    ("http://10.0.0.5/video.mjpg", {"mode": "copy"}, None),
    ("gate.mp4", {"mode": "copy"}, None),
    (None, {"mode": "copy"}, None),  # analyze: the file comes on the command line
    ("gate.mp4", {"mode": "remux"}, "cameras[0].recording.mode: Input should be 'encode', 'copy' or 'auto'"),
    ("gate.mp4", {"mode": ""}, "cameras[0].recording.mode: Input should be 'encode', 'copy' or 'auto'"),
]


@pytest.mark.parametrize(("url", "recording", "error"), MODES)
def test_copy_is_refused_where_there_is_no_encoded_stream(url: str | None, recording: dict[str, Any],
                                                          error: str | None) -> None:
    if error is None:
        cam = settings(url, recording).cameras[0]
        assert cam.recording.mode == recording.get("mode", "encode")
        return
    with pytest.raises(ConfigError) as exc:
        settings(url, recording)
    assert error in str(exc.value)


def test_encode_is_the_default() -> None:
    assert CameraRecordingConfig().mode == "encode"


@pytest.mark.parametrize(("url", "reason"), [
    (None, None), ("gate.mp4", None), ("file:/data/gate.mp4", None), ("rtsp://h/main", None),
    ("https://h/x.mjpg", None), ("mqtt", "MQTT as JPEG images"), ("0", "capture device gives decoded frames"),
])
def test_why_not_copy(url: str | None, reason: str | None) -> None:
    require_module("av")
    got = why_not_copy(url)
    assert got is None if reason is None else (got is not None and reason in got)


def test_why_not_copy_refuses_a_bad_url() -> None:
    with pytest.raises(ValueError, match="unsupported camera url scheme"):
        why_not_copy("ftp://h/x")


def test_without_pyav_copy_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError, as when it is not installed
    with pytest.raises(CopyUnavailable, match=r"pip install 'routewatch\[video\]'"):
        streamcopy.load_av()
    assert "pip install" in (why_not_copy("gate.mp4") or "")


@pytest.mark.parametrize(("codec", "ok"), [("h264", True), ("hevc", True), ("mjpeg", True), ("mpeg4", True),
                                           ("vp8", False), ("rawvideo", False), ("", False)])
def test_codecs_mp4_can_hold(codec: str, ok: bool) -> None:
    require_module("av")
    assert streamcopy.copyable(codec) is ok


def box(track: str) -> tuple[Box, ...]:
    return (Box(1, 2, 3, 4, "car", 0.5, track=track),)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


BOXES = [
    # (processed (s, track), frame times s, expected track per frame or None)
    ([], [0.0, 0.1], [None, None]),
    ([(0.0, "a"), (0.2, "b")], [0.0, 0.1, 0.19, 0.2, 0.3], ["a", "a", "a", "b", "b"]),
    ([(1.0, "a")], [0.9, 1.0, 1.4, 1.41], [None, "a", "a", None]),  # hold 0.4 s (two periods at 5 fps)
    ([(0.0, "a"), (5.0, "b")], [0.3, 2.0, 5.1], ["a", None, "b"]),  # processing stalled: no stale boxes
]


@pytest.mark.parametrize(("processed", "frames", "expected"), BOXES)
def test_copied_frames_get_the_boxes_of_the_processed_frame_before_them(
        processed: list[tuple[float, str]], frames: list[float], expected: list[str | None]) -> None:
    tl = BoxTimeline(hold_s=0.4)
    for s, track in reversed(processed):  # also out of order
        tl.add(at(s), box(track))
    assert tl.boxes_for([at(s) for s in frames]) == [box(e) if e else () for e in expected]


def test_the_timeline_forgets_only_what_no_later_frame_needs() -> None:
    tl = BoxTimeline(hold_s=0.4)
    for i in range(10):
        tl.add(at(i * 0.2), box(str(i)))
    tl.forget_before(at(1.1))
    assert len(tl) == 5 and tl.boxes_for([at(1.1)]) == [box("5")] and tl.progress == at(1.8)
    tl.clear()
    assert len(tl) == 0 and tl.progress is None


@pytest.mark.parametrize(("pts", "start", "tb", "ms"), [
    (0, 0, Fraction(1, 90000), 0.0), (167400, 0, Fraction(1, 90000), 1860.0),
    (1000, 0, Fraction(1, 30000), 33.333333333333336), (6000, 0, Fraction(1, 25000), 240.00000000000003),
    (3000, 1000, Fraction(1, 1000), 2000.0), (5, None, Fraction(1, 25), 200.0),
])
def test_file_times_are_computed_as_opencv_computes_them(pts: int, start: int | None, tb: Fraction,
                                                         ms: float) -> None:
    # The same doubles as CAP_PROP_POS_MSEC (e.g. 240.00000000000003 for intel_car-detection.mp4's 4th frame).
    assert file_ms(pts, start, tb) == ms
