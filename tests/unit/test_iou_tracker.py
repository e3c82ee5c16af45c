"""IoU tracker: stable ids for moving boxes, confirmation, expiry."""

from __future__ import annotations

import pytest

from routewatch.model import Box
from routewatch.tracking.iou import IouTracker, iou


@pytest.mark.parametrize(("a", "b", "want"), [
    (Box(0, 0, 2, 2), Box(0, 0, 2, 2), 1.0),
    (Box(0, 0, 2, 2), Box(5, 5, 6, 6), 0.0),
    (Box(0, 0, 2, 2), Box(1, 1, 3, 3), 1 / 7),
    (Box(0, 0, 0, 0), Box(0, 0, 0, 0), 0.0),
])
def test_iou_table(a, b, want):
    assert iou(a, b) == pytest.approx(want)


def test_two_movers_keep_their_ids_and_a_newcomer_waits_for_confirmation():
    tr = IouTracker(min_hits=3)
    seen = []
    for i in range(20):
        boxes = [Box(10 + 3 * i, 10, 40 + 3 * i, 60), Box(200 - 3 * i, 100, 230 - 3 * i, 150)]
        if i >= 10:
            boxes.append(Box(400, 300, 420, 340))
        seen.append({int(t.track): t for t in tr.update(boxes)})
    assert seen[0] == {} and seen[1] == {}  # not confirmed yet
    assert set(seen[5]) == {1, 2}
    assert set(seen[19]) == {1, 2, 3} and seen[19][1].x1 == 10 + 3 * 19
    assert set(seen[11]) == {1, 2}  # the newcomer has 2 hits at frame 11


def test_a_track_survives_short_gaps_and_expires_after_long_ones():
    tr = IouTracker(min_hits=1, max_missed=2)
    b = Box(0, 0, 10, 10)
    assert [int(t.track) for t in tr.update([b])] == [1]
    tr.update([])
    tr.update([])
    assert [int(t.track) for t in tr.update([b])] == [1]
    for _ in range(3):
        tr.update([])
    assert [int(t.track) for t in tr.update([b])] == [2]


def test_empty_frames():
    assert IouTracker().update([]) == []
