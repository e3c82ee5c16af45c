"""An MQTT recording (.jsonl, see routewatch.ingest.mqtt.recordfile) through the live path's parsing into a job.

Every recorded message goes through what the live MQTT link's messages go through (parsing, validation,
dead letters, publishers' sequence gaps), in received_at order, with its received_at as the receiver's
clock. Camera frames are checked as live (a bad one is a dead letter) but not analyzed: offline
analysis builds no camera runtime; they are counted. Bad lines of the file itself are dead letters too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from routewatch.config.schema import Settings
from routewatch.ingest.mqtt import recordfile
from routewatch.ingest.mqtt.frames import parse_frame
from routewatch.ingest.mqtt.receive import to_delivery
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import DeadLetter, InboundMessage, TelemetryEvent

if TYPE_CHECKING:
    from routewatch.app.runtime import Runtime
    from routewatch.ingest.mqtt.payloads import PixelToGround

CHUNK = 2000


def feed_recording(rt: Runtime, path: Path, settings: Settings, seqs: SeqCounter,
                   progress: Callable[[int], None] | None = None) -> None:
    """Read a recording, put it in received_at order and feed it to the job; counts go to its summary."""
    with path.open("rb") as f:
        _feed_file(rt, f, path.name, settings, seqs, progress)


def _feed_file(rt: Runtime, f: IO[bytes], name: str, settings: Settings, seqs: SeqCounter,
               progress: Callable[[int], None] | None) -> None:
    cfg = settings.mqtt.input
    limit = recordfile.line_limit(cfg)
    # Reading counts for the first tenth of the bar: the rest is the pipeline's.
    idx = recordfile.index(f, limit, None if progress is None else lambda n: progress(n // 10))
    ingest = rt.summary.ingest
    ingest["recording_lines"] += idx.lines
    ingest["recording_messages"] += len(idx)
    ingest["recording_bad_lines"] += len(idx.bad)
    # A file without one good time: its bad lines are timed by the file (what else is there).
    fallback = datetime.fromtimestamp(os.fstat(f.fileno()).st_mtime, UTC)
    dead = [recordfile.dead_letter(b, name, fallback) for b in idx.bad]
    frame_cameras = {c.name for c in settings.cameras if c.url == "mqtt"}
    frames = 0

    def frame(msg: InboundMessage) -> DeadLetter | None:
        nonlocal frames
        res = parse_frame(msg, cfg, frame_cameras, now=msg.received_at)
        if isinstance(res, DeadLetter):
            return res
        frames += 1
        return None

    ground = _grounds(settings)
    if idx.latest is not None:
        rt.summary.saw(idx.latest)
    chunk: list[TelemetryEvent] = []
    start = idx.size_bytes // 10
    done = 0
    for i, (msg, size) in enumerate(recordfile.messages(f, idx)):
        got = to_delivery([msg], cfg, msg.received_at, frame, ground, seqs)
        chunk.extend(got.events)
        dead.extend(got.dead)
        done += size
        if len(chunk) >= CHUNK or len(dead) >= CHUNK:
            _feed(rt, chunk, dead)
            chunk, dead = [], []
            if progress is not None:
                progress(start + done * 9 // 10)
        elif progress is not None and i % CHUNK == 0:
            progress(start + done * 9 // 10)
    _feed(rt, chunk, dead)
    ingest["mqtt_frames_not_analyzed"] += frames
    if progress is not None:
        progress(idx.size_bytes)


def _feed(rt: Runtime, chunk: list[TelemetryEvent], dead: list[DeadLetter]) -> None:
    rt.summary.ingest["dead_letters"] += len(dead)
    rt.writer.add([], [], dead)
    rt.feed(chunk)


def _grounds(settings: Settings) -> dict[str, PixelToGround]:
    """The fixed cameras' pixel-to-ground, for pixel detections, as the live run has them."""
    if not any(c.kind == "fixed" for c in settings.cameras):
        return {}  # and OpenCV stays unloaded
    from routewatch.app.services import pixel_grounds

    return pixel_grounds(settings)
