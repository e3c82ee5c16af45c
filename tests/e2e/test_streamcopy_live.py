"""Stream copy of live cameras that refuse the copy's connection: passwords stay out of logs, auto encodes.

A camera url often holds its password: an unreachable stream (a closed local port) must be named
redacted in the exception, the logs and the recording event. A camera that allows one session (a real
HTTP MJPEG server serving a single session) keeps it for detection; mode auto then encodes the
processed frames, mode copy stores a "stopped" recording event.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from routewatch.config.cameras import CameraConfig
from routewatch.recording.copyrecorder import OPEN_TRIES
from routewatch.recording.read import frames_between
from routewatch.recording.service import recorder_for
from routewatch.recording.streamcopy import Source
from routewatch.store import Store
from tests.kits.mjpeg import MjpegServer
from tests.kits.require import require_module

from .livegate import run_gate_stream
from .test_recording import check_rows_and_files, disk
from .test_run_cameras import scene_jpegs
from .test_streamcopy import gray_frames

require_module("av")
SECRET = "s3cret"


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then closed: connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


URLS = [
    # (url with {port}, its redacted form as messages must show it)
    ("rtsp://admin:s3cret@127.0.0.1:{port}/x", "rtsp://admin:***@127.0.0.1:{port}/x"),
    ("http://admin:s3cret@127.0.0.1:{port}/video.mjpg?user=admin&pwd=s3cret",
     "http://admin:***@127.0.0.1:{port}/video.mjpg?user=admin&pwd=***"),
    ("http://127.0.0.1:{port}/a.mjpg?token=s3cret", "http://127.0.0.1:{port}/a.mjpg?token=***"),
    ("rtsp://127.0.0.1:{port}/open", "rtsp://127.0.0.1:{port}/open"),  # nothing to hide: shown whole
]


@pytest.mark.parametrize(("url", "shown"), URLS)
def test_the_error_of_an_unreachable_stream_names_it_redacted(url: str, shown: str) -> None:
    port = closed_port()
    with pytest.raises(OSError) as exc:
        Source.open_stream(url.format(port=port), 2.0)
    text = str(exc.value)
    assert SECRET not in text and f"cannot open {shown.format(port=port)}: Connection refused" in text
    assert exc.value.__cause__ is None and exc.value.__suppress_context__  # PyAV's own text is not chained


def messages(caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged: messages and tracebacks."""
    return "\n".join(f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records)


@pytest.mark.parametrize(("url", "shown"), URLS)
@pytest.mark.parametrize("mode", ["copy", "auto"])
def test_a_password_never_reaches_the_logs_nor_the_recording_events(
        url: str, shown: str, mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """mode copy: a "stopped" event after OPEN_TRIES failed opens; auto: the processed frames are encoded."""
    caplog.set_level(logging.DEBUG)
    port = closed_port()
    url, shown = url.format(port=port), shown.format(port=port)
    cam = CameraConfig.model_validate({"name": "cam", "url": url, "gcps": [[0, 0, 0, 0]] * 4, "reopen_s": 0.02,
                                       "stale_s": 2.0, "recording": {"enabled": True, "mode": mode}})
    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        store.upgrade()
        rec = recorder_for(cam, disk(tmp_path / "rec"), store.recordings)
        frames = gray_frames(1000)
        puts = 0

        def done() -> bool:
            c = rec.counters()
            return bool(c.get("copy_fallback")) if mode == "auto" else c.get("copy_open_failures", 0) >= OPEN_TRIES

        while not done():  # the vision path's frames go on meanwhile
            rec.put(*next(frames), ())
            puts += 1
            time.sleep(0.01)
        rec.close()
        events = store.recordings.events("cam")
        segs = store.recordings.segments("cam")
        check_rows_and_files(store, tmp_path / "rec", "cam")
    counts = rec.counters()
    logged = messages(caplog)
    assert SECRET not in logged and f"stream copy: cannot open {shown}: Connection refused; retrying" in logged
    if mode == "copy":
        assert [(e.kind, e.reason) for e in events] == [("stopped", f"stream copy: cannot open {shown}: "
                                                         "Connection refused")]
        assert segs == [] and "copy_fallback" not in counts
    else:  # auto: encoded, the frames processed while trying too (fewer than queue_frames)
        assert events == [] and counts["copy_fallback"] == 1
        assert {s.codec for s in segs} == {"mp4v"} and sum(s.frames for s in segs) == counts["recorded_frames"] > 0
        assert counts["recorded_frames"] + counts.get("record_dropped", 0) == puts
        assert f"Connection refused ({OPEN_TRIES} times in a row while the vision path got its frames" in logged


@pytest.mark.parametrize("mode", ["auto", "copy"])
def test_a_camera_allowing_one_session_keeps_it_for_detection(mode: str, tmp_path: Path, db_url: str) -> None:
    """The copy connects after the vision path: detection gets the only session, the copy is refused (503)."""
    jpegs = scene_jpegs(tmp_path, 10.0)
    root = tmp_path / "rec"
    with MjpegServer([jpegs], fps=20.0) as server, Store(db_url) as store:
        # The session whole, and the alert.
        counts = run_gate_stream(server, store, db_url, tmp_path, root=root, sent=len(jpegs),
                                 recording={"mode": mode, "segment_s": 5}, linger_s=0.5, reopen_s=0.2).ingest
        alerts = [(a.kind.value, a.corridor_id) for a in store.alerts.find()]
        segs = store.recordings.segments("gate")
        events = store.recordings.events("gate")
        check_rows_and_files(store, root)
        back = frames_between(store, "gate", segs[0].start, segs[-1].end) if segs else []
    assert alerts == [("cross", "gate-line")] and counts["camera_processed"] > 40
    assert server.sent == len(jpegs) and server.refused >= OPEN_TRIES  # one session, to detection
    assert counts["recording_copy_open_failures"] >= OPEN_TRIES
    if mode == "auto":
        assert counts["recording_copy_fallback"] == 1 and events == []
        assert {s.codec for s in segs} == {"mp4v"}
        # Every processed frame encoded: those processed while the copy was tried too.
        assert sum(s.frames for s in segs) == len(back) == counts["recording_recorded_frames"]
        assert counts["recording_recorded_frames"] + counts.get("recording_record_dropped", 0) \
            == counts["camera_processed"]
        assert sum(1 for f in back if f.boxes) > 10  # the walker's boxes, as tracked
    else:
        assert segs == [] and "recording_copy_fallback" not in counts
        assert [e.kind for e in events] == ["stopped"]
        assert events[0].reason == f"stream copy: cannot open {server.url}: Server returned 5XX Server Error reply"
