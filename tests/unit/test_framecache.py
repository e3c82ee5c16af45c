"""The camera frame cache for snapshots: bounds by count and age, look-ups, and use from two threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from routewatch.cameras.framecache import CachedFrame, FrameCache
from routewatch.model import Box

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
IMG = np.zeros((4, 4, 3), np.uint8)
IMG.flags.writeable = False


def frame(t: float, *tracks: str) -> CachedFrame:
    return CachedFrame(T0 + timedelta(seconds=t), IMG, tuple(Box(0, 0, 1, 1, track=k) for k in tracks))


def kept(cache: FrameCache) -> list[float]:
    return [(f.time - T0).total_seconds() for f in cache._frames]


# (max_frames, max_age_s, frames put as (time, tracks), times kept)
BOUNDS = [
    pytest.param(5, 60.0, [], [], id="empty"),
    pytest.param(5, 60.0, [(0, ()), (1, ())], [], id="frames-without-tracks-are-not-kept"),
    pytest.param(3, 60.0, [(t, ("1",)) for t in range(6)], [3, 4, 5], id="count-bound"),
    pytest.param(100, 2.5, [(t, ("1",)) for t in range(6)], [3, 4, 5], id="age-bound"),
    pytest.param(2, 2.5, [(t, ("1",)) for t in range(6)], [4, 5], id="count-tighter-than-age"),
    pytest.param(10, 1.0, [(0, ("1",)), (0.5, ()), (10, ("2",))], [10], id="a-gap-ages-everything-out"),
    pytest.param(10, 60.0, [(0, ("1",)), (2, ("1",)), (1, ("1",))], [0, 1, 2], id="out-of-order-kept-sorted"),
    pytest.param(10, 2.0, [(5, ("1",)), (1, ("1",))], [5], id="late-frame-older-than-age-dropped"),
    pytest.param(1, 60.0, [(0, ("1",)), (1, ("1",))], [1], id="one-frame"),
    # One frame stamped far ahead must not make every later (correct) frame "too old" to keep.
    pytest.param(10, 5.0, [(0, ("1",)), (300, ("1",)), (1, ("1",)), (2, ("1",)), (3, ("1",)), (4, ("1",))],
                 [3, 4], id="future-frame"),
]


@pytest.mark.parametrize(("max_frames", "max_age_s", "puts", "expected"), BOUNDS)
def test_bounds(max_frames: int, max_age_s: float, puts: list[tuple[float, tuple[str, ...]]],
                expected: list[float]) -> None:
    cache = FrameCache(max_frames, timedelta(seconds=max_age_s))
    for t, tracks in puts:
        cache.put(frame(t, *tracks))
    assert kept(cache) == expected
    assert len(cache) == len(expected) <= max_frames


@pytest.mark.parametrize(("max_frames", "max_age", "message"), [
    (0, timedelta(seconds=1), "max_frames"),
    (-3, timedelta(seconds=1), "max_frames"),
    (5, timedelta(0), "max_age"),
    (5, timedelta(seconds=-1), "max_age"),
])
def test_bad_bounds_are_refused(max_frames: int, max_age: timedelta, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrameCache(max_frames, max_age)


def test_a_naive_frame_time_is_refused() -> None:
    cache = FrameCache(5, timedelta(seconds=10))
    with pytest.raises(ValueError, match="tz-aware"):
        cache.put(CachedFrame(datetime(2026, 5, 1), IMG, (Box(0, 0, 1, 1, track="1"),)))
    assert len(cache) == 0


# frames put: (time, tracks); look-up (track, at) -> time of the frame found, or None
FIND = [
    pytest.param([], ("1", 5.0), None, id="empty-cache"),
    pytest.param([(1, ("1",)), (2, ("1",))], ("1", 2.0), 2.0, id="exact-time"),
    pytest.param([(1, ("1",)), (2, ("1",))], ("1", 1.9), 1.0, id="nearest-before"),
    pytest.param([(1, ("1",)), (2, ("2",))], ("1", 2.0), 1.0, id="newest-frame-with-that-track"),
    pytest.param([(3, ("1",)), (4, ("1",))], ("1", 2.0), 3.0, id="only-after-the-oldest-later-one"),
    pytest.param([(3, ("2",)), (4, ("1",))], ("1", 2.0), 4.0, id="only-after-with-that-track"),
    pytest.param([(1, ("1",))], ("9", 5.0), None, id="unknown-track"),
]


@pytest.mark.parametrize(("puts", "query", "expected"), FIND)
def test_find(puts: list[tuple[float, tuple[str, ...]]], query: tuple[str, float], expected: float | None) -> None:
    cache = FrameCache(10, timedelta(seconds=60))
    for t, tracks in puts:
        cache.put(frame(t, *tracks))
    track, at = query
    found = cache.find(track, T0 + timedelta(seconds=at))
    if expected is None:
        assert found is None
    else:
        assert found is not None
        got, box = found
        assert (got.time - T0).total_seconds() == expected and box.track == track and box in got.boxes


# (max_frames, max_age_s, frames put at these times, since, hurry?)
HURRY = [
    pytest.param(10, 10.0, [], 0.0, False, id="empty"),
    pytest.param(10, 10.0, [0, 1, 2], 0.0, False, id="room-left"),
    pytest.param(10, 10.0, [0, 1, 2, 3, 4], 0.0, True, id="half-the-count"),
    pytest.param(10, 10.0, [0, 1, 2, 3, 4], 1.0, False, id="counted-from-since"),
    pytest.param(100, 10.0, [0, 5], 0.0, True, id="half-the-age"),
    pytest.param(100, 10.0, [0, 4.9], 0.0, False, id="under-half-the-age"),
    pytest.param(1, 10.0, [0], 0.0, True, id="one-frame-cache-always-hurries"),
]


@pytest.mark.parametrize(("max_frames", "max_age_s", "times", "since", "expected"), HURRY)
def test_hurry(max_frames: int, max_age_s: float, times: list[float], since: float, expected: bool) -> None:
    cache = FrameCache(max_frames, timedelta(seconds=max_age_s))
    for t in times:
        cache.put(frame(t, "1"))
    assert cache.hurry(T0 + timedelta(seconds=since)) is expected


def test_one_thread_puts_while_another_finds() -> None:
    cache = FrameCache(20, timedelta(seconds=5))
    n = 5000
    errors: list[BaseException] = []
    sizes: list[int] = []

    def writer() -> None:
        try:
            for i in range(n):
                cache.put(frame(i / 10, str(i % 3)))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    found = 0
    while thread.is_alive():
        hit = cache.find("1", T0 + timedelta(days=1))
        found += hit is not None
        sizes.append(len(cache))
    thread.join()
    assert not errors
    assert max(sizes) <= 20 and len(cache) == 20
    last = cache.find("1", T0 + timedelta(days=1))
    assert last is not None and last[1].track == "1"
    assert cache.evicted == n - 20


def test_memory_bound_keeps_the_newest_frames() -> None:
    big = np.zeros((100, 100, 3), np.uint8)  # 30,000 bytes
    cache = FrameCache(100, timedelta(seconds=60), max_bytes=100_000)
    for t in range(10):
        cache.put(CachedFrame(T0 + timedelta(seconds=t), big, (Box(0, 0, 1, 1, track="1"),)))
    assert kept(cache) == [7, 8, 9] and cache.nbytes == 90_000
    tiny = FrameCache(100, timedelta(seconds=60), max_bytes=1)  # the newest frame is always kept
    tiny.put(CachedFrame(T0, big, (Box(0, 0, 1, 1, track="1"),)))
    assert len(tiny) == 1
    with pytest.raises(ValueError, match="max_bytes"):
        FrameCache(1, timedelta(seconds=1), max_bytes=0)
