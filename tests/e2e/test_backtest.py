"""Backtest: the stored demo patrol re-run with its own corridors and with a widened one."""

from __future__ import annotations

import contextlib
import dataclasses
import doctest
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner

import routewatch.analysis.backtest
from routewatch.analysis.backtest import BacktestError, Window, diff_alerts
from routewatch.app.demo.scenario import DURATION_S, START, corridors_path, write_tlog
from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson, load_corridors
from routewatch.geo.crs import LocalFrame
from routewatch.model import Alert, Corridor, EventKind, Role, Severity
from routewatch.store import Store

FROM, TO = START.isoformat(), (START + timedelta(seconds=DURATION_S + 60)).isoformat()
WIDEN_M = 900.0


def _alert(aid: str, minute: int) -> Alert:
    t = datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
    return Alert(id=aid, kind=EventKind.ENTER, corridor_id="c", corridor_version=1, subject_id="s",
                 subject_class="person", opened_at=t, last_seen=t, lon=0.0, lat=0.0, severity=Severity.HIGH)


@pytest.mark.parametrize(("draft", "live", "added", "removed", "unchanged"), [
    ([], [], [], [], []),
    (["a"], [], ["a"], [], []),
    ([], ["a"], [], ["a"], []),
    (["a", "b"], ["b", "c"], ["a"], ["c"], ["b"]),
    (["b", "a"], ["a", "b"], [], [], ["a", "b"]),  # sorted by opening time, then id
])
def test_diff_alerts(draft, live, added, removed, unchanged):
    minute = {"a": 1, "b": 2, "c": 3}
    d = diff_alerts([_alert(i, minute[i]) for i in draft], [_alert(i, minute[i]) for i in live])
    assert [a.id for a in d.added] == added
    assert [a.id for a in d.removed] == removed
    assert [a.id for a in d.unchanged] == unchanged


T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "problem"), [
    (T, T, "empty"),
    (T, T - timedelta(seconds=1), "reversed"),
    (T, T + timedelta(days=32), "at most 31 days"),
    (T.replace(tzinfo=None), T + timedelta(hours=1), "time zone"),
])
def test_window_refuses(start, end, problem):
    with pytest.raises(BacktestError, match=problem):
        Window(start, end)


def test_window_contains_start_not_end():
    w = Window(T, T + timedelta(hours=1))
    assert T in w and T + timedelta(minutes=59) in w and T + timedelta(hours=1) not in w
    assert "2026-01-01" not in w


@pytest.mark.parametrize(("before", "during", "fails"), [
    ((700, 10, 10), (100_000, 10, 10), False),  # Python's defaults: young collections far rarer meanwhile
    ((200_000, 5, 5), (200_000, 5, 5), False),  # already rarer: left as it is
    ((700, 10, 10), (100_000, 10, 10), True),  # an error inside still restores the thresholds
])
def test_replaying_collects_less_often_and_restores_the_thresholds(before, during, fails):
    import gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(*before)
        seen = None
        with (pytest.raises(RuntimeError) if fails else contextlib.nullcontext(),
              routewatch.analysis.backtest._fewer_collections()):
            seen = gc.get_threshold()
            if fails:
                raise RuntimeError("boom")
        assert seen == during
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*saved)


def test_docstring_examples():
    assert doctest.testmod(routewatch.analysis.backtest).failed == 0


@pytest.fixture()
def patrol_db(tmp_path: Path, db_url: str) -> str:
    """The demo patrol analysed as a user would: its alerts are the live ones."""
    tlog = write_tlog(tmp_path / "demo.tlog")
    res = CliRunner().invoke(main, ["analyze", str(tlog), "--corridors", str(corridors_path()), "--db", db_url,
                                    "--quiet"])
    assert res.exit_code == 0, res.output
    return db_url


def _backtest(db_url: str, *extra: str) -> dict:
    res = CliRunner().invoke(main, ["backtest", "--from", FROM, "--to", TO, "--db", db_url, "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_backtest_of_the_live_corridors_reproduces_the_live_alerts(patrol_db, tmp_path):
    with Store(patrol_db) as store:
        live = {a.id for a in store.alerts.find(limit=10_000)}
        positions = store.positions.count()
    assert len(live) >= 5
    # The set in force, the same set from a file, and the subjects shared out among three processes.
    for extra in (("--workers", "1"), ("--corridors", str(corridors_path()), "--workers", "1"), ("--workers", "3")):
        got = _backtest(patrol_db, *extra)
        assert got["counts"]["added"] == 0 and got["counts"]["removed"] == 0
        assert {a["id"] for a in got["unchanged"]} == live
        assert got["observations"] == positions


@pytest.mark.parametrize("collect_less", [False, True])
def test_a_backtest_changes_the_collector_only_when_asked(patrol_db, collect_less):
    import gc

    from routewatch.analysis.backtest import GC_GEN0, backtest
    from routewatch.config.schema import Settings

    before = gc.get_threshold()
    seen: set[tuple[int, int, int]] = set()
    settings = Settings()
    with Store(patrol_db) as store:
        report = backtest(store, store.corridors.current(), Window(START, START + timedelta(seconds=DURATION_S + 60)),
                          settings.engine, settings.alerts, collect_less=collect_less,
                          progress=lambda done, total: seen.add(gc.get_threshold()))
    assert report.observations > 0 and seen  # progress was reported while replaying
    assert seen == ({(max(before[0], GC_GEN0), *before[1:])} if collect_less else {before})
    assert gc.get_threshold() == before


def _widened(corridor: Corridor, metres: float) -> Corridor:
    frame = LocalFrame.around([corridor.geometry])
    wide = frame.to_lonlat(frame.to_local(corridor.geometry).buffer(metres, join_style="mitre"))
    return dataclasses.replace(corridor, geometry=wide)


def test_widened_corridor_adds_the_alerts_of_those_it_now_covers(patrol_db, tmp_path):
    corridors = load_corridors(corridors_path())
    ranch = next(c for c in corridors if c.id == "ranch-exclusion")
    wide = _widened(ranch, WIDEN_M)
    draft = tmp_path / "draft.geojson"
    draft.write_text(dumps_geojson([wide if c.id == ranch.id else c for c in corridors]))
    with Store(patrol_db) as store:
        live = store.alerts.find(limit=10_000)
        fixes = [o for chunk in store.positions.stream(START - timedelta(hours=1), START + timedelta(hours=1))
                 for o in chunk]
    entered_live = {a.subject_id for a in live if a.corridor_id == ranch.id and a.kind is EventKind.ENTER}
    first_inside: dict[str, datetime] = {}
    for o in fixes:  # who the widened zone now covers, found from the stored fixes directly
        inside = shapely.contains_xy(wide.geometry, o.lon, o.lat)
        if o.role is Role.TARGET and inside and o.subject_id not in first_inside:
            first_inside[o.subject_id] = o.time
    # Exclusion zones watch targets, not our own patrol drone.
    assert set(first_inside) - entered_live, "the widened zone should cover a target the original did not"

    got = _backtest(patrol_db, "--corridors", str(draft))
    added, removed = got["added"], got["removed"]
    assert {a["corridor_id"] for a in added + removed} == {ranch.id}  # no other corridor changed
    assert {a["subject_id"] for a in added if a["kind"] == "enter"} == set(first_inside)
    for a in added:
        assert datetime.fromisoformat(a["opened_at"]) >= first_inside[a["subject_id"]]
    # Who was caught before is caught earlier now: the same episode, opened sooner (so a new id).
    for r in removed:
        assert r["subject_id"] in entered_live
        assert any(a["subject_id"] == r["subject_id"] and a["kind"] == r["kind"]
                   and a["opened_at"] < r["opened_at"] for a in added), r
    assert {a["id"] for a in got["unchanged"]} == {a.id for a in live} - {r["id"] for r in removed}
    # A draft is not saved: the corridors in force are still the original ones.
    with Store(patrol_db) as store:
        assert {c.id: c.geometry.equals(ranch.geometry) for c in store.corridors.current()
                if c.id == ranch.id} == {ranch.id: True}


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-06-01T03:00:00Z", "--to", "2026-06-01T03:00:00Z"], "empty"),
    (["--from", "2026-06-01T04:00:00Z", "--to", "2026-06-01T03:00:00Z"], "reversed"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-06-01T00:00:00Z"], "at most 31 days"),
    (["--from", "2026-06-01T03:00:00", "--to", "2026-06-01T04:00:00Z"], "no time zone"),
    (["--from", "yesterday", "--to", "2026-06-01T04:00:00Z"], "not an ISO 8601 time"),
])
def test_backtest_cli_refuses_bad_windows(tmp_path, args, message):
    res = CliRunner().invoke(main, ["backtest", *args, "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert res.exit_code == 2
    assert message in res.output


def test_backtest_without_corridors_says_so(tmp_path):
    res = CliRunner().invoke(main, ["backtest", "--from", FROM, "--to", TO, "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert res.exit_code == 2
    assert "no corridors" in res.output


def test_subject_shares_split_the_fixes_without_loss(patrol_db):
    with Store(patrol_db) as store:
        since, until = START - timedelta(hours=1), START + timedelta(hours=1)
        everything = [o for chunk in store.positions.stream(since, until) for o in chunk]
        shares = [[o for chunk in store.positions.stream(since, until, part=(k, 3)) for o in chunk] for k in range(3)]
        with pytest.raises(ValueError, match="part"):
            next(store.positions.stream(since, until, part=(3, 3)))
    key = lambda o: (o.time, o.subject_id)  # noqa: E731
    assert sorted((o for share in shares for o in share), key=key) == everything  # nothing lost, nothing twice
    assert all(share == sorted(share, key=key) for share in shares)  # each in time order
    owners = [{o.subject_id for o in share} for share in shares]
    assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])
