"""A batch job's clock (Summary.data_clock): the latest time in its data, never ahead of the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routewatch.app.summary import Summary
from routewatch.model import Observation


def fix(t: datetime) -> Observation:
    return Observation("s/1", t, 10.0, 50.0)


PAST = datetime(2026, 3, 1, 22, tzinfo=UTC)


@pytest.mark.parametrize(("seen", "fixes", "want"), [
    ([], [], "now"),
    ([PAST], [], PAST),
    ([PAST, PAST - timedelta(days=1)], [], PAST),  # never goes back
    ([], [PAST - timedelta(hours=1), PAST], PAST),
    ([PAST], [PAST + timedelta(seconds=5)], PAST + timedelta(seconds=5)),
    ([PAST + timedelta(days=36500)], [], "now"),  # a wrong clock in the data: not later than now
])
def test_data_clock(seen, fixes, want):
    s = Summary()
    for t in seen:
        s.saw(t)
    s.add_positions([fix(t) for t in fixes])
    before = datetime.now(UTC)
    got = s.data_clock()
    after = datetime.now(UTC)
    if want == "now":
        assert before <= got <= after
    else:
        assert got == want
