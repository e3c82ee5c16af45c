"""Test helper: a real HTTP MJPEG camera (multipart/x-mixed-replace JPEG frames), served from a thread.

The stream is scripted as sessions: the k-th connection is served `sessions[k]` (a list of JPEG
payloads, paced at `fps`) and then closed, which is what a camera that drops looks like to its
client (after `hang_s` of silence on the open connection, if given). After each session,
connections are refused with HTTP 503 for `outage_s` (a camera rebooting); after the last
session the stream stays down. Not a conftest: tests import it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

BOUNDARY = b"rwframe"


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an image."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def level_frame(level: int, size: tuple[int, int] = (160, 120)) -> bytes:
    """A flat grey frame whose level identifies it after decoding (JPEG keeps flat areas exact)."""
    return jpeg(np.full((size[1], size[0], 3), level, dtype=np.uint8))


def level_of(img: np.ndarray) -> int:
    """The grey level of a frame made by `level_frame`."""
    return round(float(img.mean()))


class MjpegServer:
    """A scripted MJPEG-over-HTTP camera on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self, sessions: Sequence[Sequence[bytes]], *, fps: float = 30.0, outage_s: float = 0.0,
                 hang_s: float = 0.0) -> None:
        self.sessions = [list(s) for s in sessions]
        self.fps, self.outage_s, self.hang_s = fps, outage_s, hang_s
        self.connections = 0
        self.refused = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._next = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/stream.mjpg"

    def __enter__(self) -> MjpegServer:
        threading.Thread(target=self._httpd.serve_forever, name="mjpeg", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.connections += 1
            if time.monotonic() < self._down_until or self._next >= len(self.sessions):
                self.refused += 1
                session = None
            else:
                session = self.sessions[self._next]
                self._next += 1
        if session is None:
            h.send_error(503, "camera restarting")
            return
        h.send_response(200)
        h.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        start = time.monotonic()
        try:
            for i, data in enumerate(session):
                delay = start + i / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                h.wfile.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                              + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                h.wfile.flush()
                with self._lock:
                    self.sent += 1
            time.sleep(self.hang_s)  # a camera that goes silent but keeps the connection open
        except OSError:  # the client went away
            pass
        finally:
            with self._lock:
                self._down_until = time.monotonic() + self.outage_s
        h.close_connection = True


def video_jpegs(video: Path, quality: int = 90) -> list[bytes]:
    """Every frame of a video file as JPEG bytes (what a camera would publish on MQTT)."""
    cap = cv2.VideoCapture(str(video))
    out = []
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
            out.append(buf.tobytes())
    finally:
        cap.release()
    return out
