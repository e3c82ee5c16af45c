"""The footprint writer (routewatch.cameras.footprints) against a real SQLite store: coalescing, bounds, errors."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shapely.geometry import box

from routewatch.cameras.footprints import FootprintWriter
from routewatch.geo.footprint import Footprint
from routewatch.store import Store

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
SQ = box(23.5, 17.2, 23.501, 17.201)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def row(camera: str, start: float, end: float) -> Footprint:
    return Footprint(camera, at(start), at(end), SQ)


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'w.db'}") as s:
        s.upgrade()
        yield s


def until(cond, what: str) -> None:
    for _ in range(2000):
        if cond():
            return
        time.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def test_a_growing_row_is_written_a_few_times_with_its_last_end(store: Store) -> None:
    w = FootprintWriter(store.coverage, period_s=0.05)
    first = row("gate", 0, 0.2)
    for i in range(1, 501):
        w.put([dataclasses.replace(first, end=at(0.2 * i))])
    w.close()
    [got] = store.coverage.footprints_between(at(0), at(1000))
    assert got.end == at(100.0)
    assert 1 <= w.counts["footprints_written"] < 50, w.counts


class Gated:
    """The store, but each write waits for `gate` (a slow database)."""

    def __init__(self, store: Store) -> None:
        self.store, self.gate, self.entered = store, threading.Event(), threading.Event()

    def put_footprints(self, rows: Sequence[Footprint]) -> None:
        self.entered.set()
        self.gate.wait()
        self.store.coverage.put_footprints(rows)


def test_bounded_while_the_database_is_slow(store: Store) -> None:
    slow = Gated(store)
    w = FootprintWriter(slow, max_pending=3, period_s=0.0)
    w.put([row("a", 0, 1)])
    until(slow.entered.is_set, "the first write began")
    w.put([row("b", 0, 1), row("c", 0, 1), row("d", 0, 1)])
    w.put([row("e", 0, 1)])  # no room: dropped, never blocking the caller
    w.put([row("b", 0, 5)])  # a newer version of a waiting row takes its place
    assert w.counts["footprints_dropped"] == 1
    slow.gate.set()
    w.close()
    got = {(f.camera, f.end) for f in store.coverage.footprints_between(at(0), at(100))}
    assert got == {("a", at(1)), ("b", at(5)), ("c", at(1)), ("d", at(1))}


def test_rows_wait_for_the_database_to_come_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'late.db'}"
    with Store(url) as store:  # not migrated yet: every write fails
        w = FootprintWriter(store.coverage, period_s=0.0, retry_s=0.02)
        w.put([row("gate", 0, 1)])
        until(lambda: w.counts["footprint_errors"] >= 2, "failed writes were retried")
        w.put([row("gate", 0, 3)])
        store.upgrade()
        until(lambda: w.counts["footprints_written"] >= 1, "the row was written once the table existed")
        w.close()
        assert [(f.start, f.end) for f in store.coverage.footprints_between(at(0), at(10))] == [(at(0), at(3))]


def test_close_gives_up_on_a_database_that_is_gone(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'never.db'}") as store:
        w = FootprintWriter(store.coverage, period_s=0.0, retry_s=60.0)
        w.put([row("gate", 0, 1), row("uav", 0, 1)])
        until(lambda: w.counts["footprint_errors"] >= 1, "a write failed")
        w.close()  # one last try, then the rows are counted as dropped (it does not wait for retry_s)
        assert w.counts["footprints_dropped"] == 2 and w.counts["footprints_written"] == 0
