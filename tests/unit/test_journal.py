"""The journal: durable spool of rows while the database is away."""

from __future__ import annotations

from datetime import timedelta

from routewatch.model import Alert, AlertChange, Change, DeadLetter, EventKind, Severity
from routewatch.store.journal import Journal
from tests.kits.engine import T0, fixes, walk


def change(i: int) -> AlertChange:
    t = T0 + timedelta(seconds=i)
    return AlertChange(Change.OPENED, Alert(f"id{i}", EventKind.ENTER, "zone", 2, "s1", "person", t, t, 149.1,
                                            -35.3, Severity.HIGH, evidence=("positions?subject=s1",)))


def test_round_trip_in_order(tmp_path):
    j = Journal(tmp_path / "j")
    assert j.pending == 0 and list(j.batches()) == []
    obs = fixes(walk(0, 0, 10, 0, 5))
    dead = [DeadLetter("routewatch/v1/pos/x", "bad JSON", "{", T0, 1)]
    j.append([change(1)], obs, dead)
    j.append([change(2), change(3)], [], [])
    assert j.pending == 2
    batches = list(j.batches())
    assert [b.changes for _, b in batches] == [(change(1),), (change(2), change(3))]
    assert batches[0][1].observations == tuple(obs) and batches[0][1].dead_letters == tuple(dead)
    j.done(batches[0][0])
    assert j.pending == 1
    # a new Journal on the same directory continues the numbering and sees what is left
    j2 = Journal(tmp_path / "j")
    j2.append([change(4)], [], [])
    assert [b.changes[0].alert.id for _, b in j2.batches()] == ["id2", "id4"]


def test_torn_last_line_is_skipped_not_fatal(tmp_path):
    j = Journal(tmp_path)
    j.append([change(1), change(2)], [], [])
    path = next(iter(j.batches()))[0]
    text = path.read_text()
    path.write_text(text[: len(text) - 20])  # a crash mid-line
    (tmp_path / "batch-00000009.tmp").write_text("never renamed: not a batch")
    (_, batch), = list(j.batches())
    assert [c.alert.id for c in batch.changes] == ["id1"]
