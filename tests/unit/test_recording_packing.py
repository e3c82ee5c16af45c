"""The packed frame index (every frame's time) and box log (every frame's tracked boxes) of a segment."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routewatch.model import Box
from routewatch.recording.boxlog import BOX, as_stored, pack_boxes, unpack_boxes
from routewatch.recording.frameindex import frame_at, pack_times, unpack_times

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


@pytest.mark.parametrize("times", [
    pytest.param([], id="empty"),
    pytest.param([at(0)], id="one"),
    pytest.param([at(i / 5) for i in range(300)], id="regular-5fps"),
    pytest.param([at(0), at(0), at(0.04), at(7.5)], id="repeated-and-irregular"),
    pytest.param([at(i * 0.033367) for i in range(1000)], id="ntsc-rate-microseconds"),
    pytest.param([datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)], id="epoch"),
])
def test_times_round_trip_exactly(times: list[datetime]) -> None:
    blob = pack_times(times)
    assert unpack_times(blob) == times
    if len(times) >= 300:
        assert len(blob) < len(times)  # under a byte a frame for a regular rate


@pytest.mark.parametrize(("times", "message"), [
    ([at(1), at(0)], "backwards"),
    ([datetime(2026, 5, 1)], "tz-aware"),
])
def test_bad_times_are_refused(times: list[datetime], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pack_times(times)


GOOD_TIMES = pack_times([at(0), at(1)])


@pytest.mark.parametrize(("blob", "message"), [
    (b"", "too short"),
    (b"XXXX" + GOOD_TIMES[4:], "not a frame index"),
    (GOOD_TIMES[:8] + b"not zlib", "corrupt"),
    (struct.pack("<4sI", b"RWT1", 3) + GOOD_TIMES[8:], "header says 3"),
    (struct.pack("<4sI", b"RWT1", 2) + zlib.compress(np.array([5, -1], "<i8").tobytes()), "backwards"),
    (struct.pack("<4sI", b"RWT1", 2**31), "more than"),
])
def test_bad_frame_index_blobs_are_refused(blob: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unpack_times(blob)


@pytest.mark.parametrize(("t", "want"), [(-1, None), (0, 0), (0.19, 0), (0.2, 1), (59.8, 299), (1000, 299)])
def test_frame_at_is_the_last_frame_at_or_before(t: float, want: int | None) -> None:
    assert frame_at(pack_times([at(i / 5) for i in range(300)]), at(t)) == want


B1 = Box(10.25, 20.5, 50.125, 90.0, "person", 0.875, track="1")
B2 = Box(-3.0, 0.0, 1919.5, 1079.75, "car", 0.5, track="car-7")
B3 = Box(11.0, 21.0, 51.0, 91.0, "person", 0.9, track="1")


@pytest.mark.parametrize("frames", [
    pytest.param([], id="no-frames"),
    pytest.param([(), (), ()], id="frames-without-boxes"),
    pytest.param([(B1,), (), (B2, B3)], id="mixed"),
    pytest.param([(B1, B2)] * 500, id="many"),
])
def test_boxes_round_trip(frames: list[tuple[Box, ...]]) -> None:
    blob = pack_boxes(frames)
    assert unpack_boxes(blob) == [tuple(as_stored(b) for b in f) for f in frames]
    if len(frames) == 500:
        assert len(blob) < 1000 * BOX.itemsize / 4  # repeated boxes compress


@given(st.lists(st.lists(st.builds(
    Box, st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4),
    st.sampled_from(["person", "car", "truck", "moving_object"]), st.floats(0, 1),
    track=st.text(min_size=1, max_size=8)),
    max_size=4), max_size=30))
def test_any_boxes_read_back_as_float32(frames: list[list[Box]]) -> None:
    got = unpack_boxes(pack_boxes(frames))
    assert got == [tuple(as_stored(b) for b in f) for f in frames]


GOOD_BOXES = pack_boxes([(B1,), (B2,)])


def _body(names: bytes, records: bytes, frames: int = 2) -> bytes:
    return struct.pack("<4sI", b"RWB1", frames) + zlib.compress(struct.pack("<I", len(names)) + names + records)


@pytest.mark.parametrize(("blob", "message"), [
    (b"RW", "too short"),
    (b"RWT1" + GOOD_BOXES[4:], "not a box log"),
    (GOOD_BOXES[:8] + b"garbage", "corrupt"),
    (_body(b"{not json", b""), "corrupt"),
    (_body(b'{"tracks": []}', b""), "corrupt"),
    (_body(b'{"tracks": [], "classes": []}', b"\x00" * 7), "multiple"),
    (_body(b'{"tracks": ["1"], "classes": ["car"]}', np.zeros(1, BOX).tobytes(), frames=0), "refers to"),
    (_body(b'{"tracks": [], "classes": ["car"]}', np.zeros(1, BOX).tobytes()), "refers to"),
])
def test_bad_box_logs_are_refused(blob: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unpack_boxes(blob)


@pytest.mark.parametrize(("camera", "codec", "want"), [
    ("gate", "mp4v", "gate/2026-05-01/030000.000000Z.mp4"),
    ("north-2.b", "MJPG", "north-2.b/2026-05-01/030000.000000Z.avi"),
    ("uav", "VP80", "uav/2026-05-01/030000.000000Z.webm"),
    ("..", "mp4v", ValueError),
    (".", "mp4v", ValueError),
    ("", "mp4v", ValueError),
    ("a/b", "mp4v", ValueError),
])
def test_segment_paths(camera: str, codec: str, want: str | type[Exception]) -> None:
    from routewatch.recording.segments import is_part, part_path, segment_path

    if isinstance(want, str):
        got = segment_path(camera, T0, codec)
        assert got == want
        part = part_path(Path(got)).name
        assert is_part(part) and not is_part(Path(got).name) and part.endswith(Path(got).suffix)
    else:
        with pytest.raises(want, match="camera name"):
            segment_path(camera, T0, codec)
