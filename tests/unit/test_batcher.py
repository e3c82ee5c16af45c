"""Batcher: items from a callback thread are handed over in the order they came, whoever flushes."""

from __future__ import annotations

import threading
import time

from routewatch.ingest.handoff import LINK_BATCH, Batcher


def test_batches_are_handed_over_in_order_when_the_ticker_and_the_callback_both_flush():
    got: list[int] = []
    stop = threading.Event()

    def emit(items: list[object]) -> None:
        time.sleep(0.002 if len(items) < LINK_BATCH else 0.0005)  # a slow hand-over, as under backpressure
        got.extend(items)  # type: ignore[arg-type]

    batcher = Batcher(emit, stop, period_s=0.001)  # the ticker flushes all the time
    n = 20 * LINK_BATCH
    for i in range(n):  # every LINK_BATCH-th item makes this thread flush too
        batcher(i)
        if i % 97 == 0:
            time.sleep(0.0005)
    stop.set()
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == list(range(n))


def test_nothing_is_emitted_for_an_empty_buffer():
    calls: list[list[object]] = []
    stop = threading.Event()
    batcher = Batcher(calls.append, stop, period_s=60.0)
    batcher.flush()
    assert calls == []
    batcher("x")
    batcher.flush()
    assert calls == [["x"]]
    stop.set()
