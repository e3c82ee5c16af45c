"""Publisher sequence numbers: what counts as a gap, a repeat and a restart; `seq` in the v1 payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.mqtt.payloads import Accepted, parse_message
from routewatch.ingest.mqtt.sequence import OTHER, SeqCounter
from routewatch.model import DeadLetter, InboundMessage

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seqs", "want"), [
    ([5], {"received": 1, "gaps": 0, "repeats": 0, "restarts": 0}),  # any start
    ([0, 1, 2, 3], {"received": 4, "gaps": 0, "repeats": 0, "restarts": 0}),
    ([0, 1, 5, 6], {"received": 4, "gaps": 3, "repeats": 0, "restarts": 0}),
    ([0, 1, 1, 2], {"received": 4, "gaps": 0, "repeats": 1, "restarts": 0}),  # QoS 1 delivered again
    ([7, 8, 0, 1, 3], {"received": 5, "gaps": 1, "repeats": 0, "restarts": 1}),  # the publisher restarted
    ([0, 1, 1_000_002], {"received": 3, "gaps": 1_000_000, "repeats": 0, "restarts": 0}),  # the largest gap
    ([0, 2**53 - 1, 2**53], {"received": 3, "gaps": 0, "repeats": 0, "restarts": 1}),  # renumbered, or forged
    ([20_000, 20_001, 5], {"received": 3, "gaps": 5, "repeats": 0, "restarts": 1}),  # restarted, 0-4 lost
    ([20_000, 20_001, 10_002], {"received": 3, "gaps": 0, "repeats": 1, "restarts": 0}),  # within the window
    ([], None),  # nothing seen: no row
])
def test_gaps_repeats_and_restarts(seqs: list[int], want: dict[str, int] | None) -> None:
    counter = SeqCounter()
    for s in seqs:
        counter.see("routewatch/v1/pos/a", s)
    counter.see("routewatch/v1/pos/b", 100)  # another publisher is counted apart
    assert counter.counts().get("routewatch/v1/pos/a") == want
    assert counter.gaps == (want["gaps"] if want else 0)


def test_invented_topics_share_one_row() -> None:
    counter = SeqCounter(max_topics=3)
    for i in range(10):
        counter.see(f"routewatch/v1/pos/p{i}", 0)
        counter.see(f"routewatch/v1/pos/p{i}", 2)
    counts = counter.counts()
    assert sorted(counts) == [OTHER, "routewatch/v1/pos/p0", "routewatch/v1/pos/p1"]
    assert counts["routewatch/v1/pos/p0"] == {"received": 2, "gaps": 1, "repeats": 0, "restarts": 0}
    assert counts[OTHER]["received"] == 16


POS = {"subject_id": "t1", "time": "2026-03-01T11:59:00Z", "lon": 10.5, "lat": 50.25}
DET = {"time": "2026-03-01T11:59:00Z", "detections": []}
TEL = {"vehicle_id": 1, "time": "2026-03-01T11:59:00Z", "fence": {"breached": False}}


@pytest.mark.parametrize(("topic", "doc", "seq", "want"), [
    ("routewatch/v1/pos/a", POS, 41, 41),
    ("routewatch/v1/det/cam", DET, 0, 0),
    ("routewatch/v1/telemetry/br", TEL, 2**53 - 1, 2**53 - 1),
    ("routewatch/v1/pos/a", POS, None, None),  # optional: v1 payloads without it are as valid as before
    ("routewatch/v1/pos/a", POS, -1, "schema pos.v1: $.seq"),
    ("routewatch/v1/pos/a", POS, 1.5, "schema pos.v1: $.seq: expected integer"),
    ("routewatch/v1/det/cam", DET, "7", "schema det.v1: $.seq: expected integer"),
    ("routewatch/v1/telemetry/br", TEL, 2**53, "schema telemetry.v1: $.seq"),
])
def test_seq_in_the_v1_payloads(topic: str, doc: dict[str, object], seq: object, want: object) -> None:
    payload = dict(doc) if seq is None else {**doc, "seq": seq}
    res = parse_message(InboundMessage(topic, json.dumps(payload).encode(), NOW), MqttInputConfig(), now=NOW)
    if isinstance(want, str):
        assert isinstance(res, DeadLetter) and res.reason.startswith(want), res
    else:
        assert isinstance(res, Accepted) and res.seq == want, res
