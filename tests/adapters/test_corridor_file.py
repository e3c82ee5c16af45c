"""The database is the source of truth for corridors: corridors.file seeds it, removals take a count.

Also here, on SQLite and PostgreSQL: dead-letter retention and short alert ids.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from shapely.geometry import Polygon, box

from routewatch.app.analyze import seed_corridors
from routewatch.config.store import StoreConfig
from routewatch.geo.corridors import CorridorError, dumps_geojson
from routewatch.model import AlertChange, Change, Corridor, CorridorKind, DeadLetter, Role
from routewatch.store import AmbiguousAlertIdError, RemovalNotConfirmedError, Store, UnknownAlertError
from routewatch.store.writer import Writer
from tests.adapters.test_store import T0, make_alert

SQ = Polygon([(5.0, 52.0), (5.01, 52.0), (5.01, 52.01), (5.0, 52.01)])


def zone(cid: str, dx: float = 0.0, **kw: object) -> Corridor:
    return Corridor(cid, box(5.0 + dx, 52.0, 5.01 + dx, 52.01), CorridorKind.EXCLUSION, **kw)  # type: ignore[arg-type]


def write(path: Path, corridors: list[Corridor]) -> Path:
    path.write_text(dumps_geojson(corridors), encoding="utf-8")
    return path


def in_force(store: Store) -> dict[str, tuple[int, str]]:
    return {c.id: (c.version, c.name) for c in store.corridors.current()}


def test_an_unchanged_file_is_not_imported_again(store: Store, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    f = write(tmp_path / "c.geojson", [zone("a"), zone("b", 0.02)])
    caplog.set_level(logging.INFO, logger="routewatch")
    seed_corridors(store, f, file_wins=False, at=T0)
    assert "imported first" in caplog.text and "added a, b" in caplog.text
    store.corridors.save([zone("a", name="planner's")], author="ana", comment="renamed", at=T0, replace=False)
    store.corridors.delete("b", author="ana", comment="not needed", at=T0)
    caplog.clear()
    got = seed_corridors(store, f, file_wins=False, at=T0 + timedelta(hours=1))
    assert [(c.id, c.version, c.name) for c in got] == [("a", 2, "planner's")]
    assert "unchanged" in caplog.text and all(r.levelno == logging.INFO for r in caplog.records)
    assert [v.author for v in store.corridors.history("a")] == ["run", "ana"]


def test_a_changed_file_keeps_what_planners_saved(store: Store, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    f = write(tmp_path / "c.geojson", [zone("edited"), zone("deleted", 0.02), zone("file", 0.04),
                                       zone("dropped", 0.06)])
    seed_corridors(store, f, file_wins=False, at=T0)
    store.corridors.save([zone("edited", name="planner's"), zone("drawn", 0.08)], author="ana", comment="edits",
                         at=T0, replace=False)
    store.corridors.delete("deleted", author="ana", comment="gone", at=T0)
    # The file changes everything it named, drops one and adds one.
    write(f, [zone("edited", name="file's"), zone("deleted", 0.02, name="file's"), zone("file", 0.04, name="file's"),
              zone("new", 0.1)])
    caplog.set_level(logging.INFO, logger="routewatch")
    seed_corridors(store, f, file_wins=False, at=T0 + timedelta(hours=1))
    assert in_force(store) == {"edited": (2, "planner's"), "file": (2, "file's"), "drawn": (1, ""), "new": (1, "")}
    assert "added new; updated file; removed dropped" in caplog.text
    kept = [r for r in caplog.records if "kept the database's version" in r.getMessage()]
    assert len(kept) == 1 and kept[0].levelno == logging.WARNING and "of edited, deleted (" in kept[0].getMessage()
    # A later change of the file still leaves the planners' corridors alone.
    write(f, [zone("file", 0.04, name="again")])
    seed_corridors(store, f, file_wins=False, at=T0 + timedelta(hours=2))
    assert in_force(store) == {"edited": (2, "planner's"), "file": (3, "again"), "drawn": (1, "")}


def test_file_wins_makes_the_stored_set_the_file(store: Store, tmp_path: Path) -> None:
    f = write(tmp_path / "c.geojson", [zone("a"), zone("b", 0.02)])
    seed_corridors(store, f, file_wins=False, at=T0)
    store.corridors.save([zone("a", name="planner's"), zone("drawn", 0.08)], author="ana", comment="e", at=T0,
                         replace=False)
    seed_corridors(store, f, file_wins=True, at=T0 + timedelta(hours=1))
    assert in_force(store) == {"a": (3, ""), "b": (1, "")}


@pytest.mark.parametrize(("name", "text", "message"), [
    ("empty collection", '{"type": "FeatureCollection", "features": []}', "has no corridors: an empty set is refused"),
    ("empty file", "", "empty input"),
    ("not a regular file", None, "is a character device, not a regular file"),
])
def test_a_bad_corridor_file_changes_nothing(store: Store, tmp_path: Path, name: str, text: str | None,
                                             message: str) -> None:
    seed_corridors(store, write(tmp_path / "first.geojson", [zone("a")]), file_wins=False, at=T0)
    f = Path("/dev/zero") if text is None else tmp_path / "c.geojson"
    if text is not None:
        f.write_text(text)
    with pytest.raises(CorridorError, match=f"corridors.file {f}: .*{message}"):
        seed_corridors(store, f, file_wins=True, at=T0)
    assert in_force(store) == {"a": (1, "")}


def test_removing_corridors_needs_their_count(store: Store) -> None:
    store.corridors.save([zone("a"), zone("b", 0.02), zone("c", 0.04)], author="t", comment="", at=T0)
    for wrong in (0, 1, 3):
        with pytest.raises(RemovalNotConfirmedError, match=r"would remove 2 stored corridor.*: b, c") as exc:
            store.corridors.save([zone("a", name="x")], author="t", comment="", at=T0, expect_removed=wrong)
        assert exc.value.ids == ["b", "c"]
    assert in_force(store) == {"a": (1, ""), "b": (1, ""), "c": (1, "")}  # nothing saved
    store.corridors.save([zone("a", name="x")], author="t", comment="", at=T0, expect_removed=2)
    assert in_force(store) == {"a": (2, "x")}


def test_corridor_roles_are_stored(store: Store) -> None:
    nofly = zone("nofly", roles=frozenset({Role.PATROL}))
    (saved,) = store.corridors.save([nofly], author="t", comment="", at=T0)
    assert store.corridors.current() == (saved,) and saved.roles == {Role.PATROL}
    (again,) = store.corridors.save([dataclasses.replace(nofly, roles=frozenset())], author="t", comment="", at=T0)
    assert again.version == 2  # roles are content: a change is a new version


def dead(i: int, age_s: float) -> DeadLetter:
    return DeadLetter(f"routewatch/v1/pos/{i}", "not JSON", f"junk {i}", T0 - timedelta(seconds=age_s), 5)


def test_dead_letters_are_kept_within_an_age_and_a_count(store: Store) -> None:
    cfg = StoreConfig(url=store.url, dead_letters_max_age_s=3600, dead_letters_max_count=100)
    writer = Writer(store, cfg, clock=lambda: T0)
    writer.add([], [], [dead(i, 7200) for i in range(30)])  # older than the age: all go
    writer.add([], [], [dead(i, 10) for i in range(30, 280)])  # 250 fresh: the newest 100 stay
    assert writer.flush()
    assert store.dead_letters.count() == 100 and writer.dead_letters_pruned == 180
    assert {d.topic for d in store.dead_letters.recent(limit=1000)} == {
        f"routewatch/v1/pos/{i}" for i in range(180, 280)}
    for i in range(280, 300):  # a flood in small batches is cut back within a tenth of the count
        writer.add([], [], [dead(i, 0)])
        writer.flush()
    assert store.dead_letters.count() <= 110


@pytest.mark.parametrize(("given", "found"), [
    ("abcd1234", "abcd1234"),  # a whole id
    ("abcd12", "abcd1234"),  # a unique prefix
    ("ab", UnknownAlertError),  # shorter than 4 characters
    ("", UnknownAlertError),
    ("abcd", AmbiguousAlertIdError),
    ("abce", UnknownAlertError),
    ("ab%d", UnknownAlertError),  # LIKE wildcards are plain characters
    ("ab_d", UnknownAlertError),
])
def test_alert_ids_by_unique_prefix(store: Store, given: str, found: str | type[Exception]) -> None:
    store.batches.write([AlertChange(Change.OPENED, dataclasses.replace(make_alert(f"s{i}"), id=aid))
                 for i, aid in enumerate(("abcd1234", "abcd5678", "ffff0000"))], [])
    if isinstance(found, str):
        assert store.alerts.resolve_id(given) == found
        return
    with pytest.raises(found) as exc:
        store.alerts.resolve_id(given)
    if found is AmbiguousAlertIdError:
        assert "candidates: abcd1234, abcd5678" in str(exc.value)


def test_seeding_files_are_told_apart_by_path(store: Store, tmp_path: Path) -> None:
    one = write(tmp_path / "one.geojson", [zone("a")])
    two = tmp_path / "two.geojson"
    two.write_text(json.dumps(json.loads(one.read_text())))
    seed_corridors(store, one, file_wins=False, at=T0)
    seed_corridors(store, two, file_wins=False, at=T0)
    assert in_force(store) == {"a": (1, "")}
