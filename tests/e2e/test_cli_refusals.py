"""The CLI refuses bad inputs with one clear line and exit 2, never a traceback, a hang or a silent zero."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from shapely.geometry import box

from routewatch.app.demo.scenario import corridors_path, write_tlog
from routewatch.geo.corridors import dumps_geojson
from routewatch.model import AlertChange, Change, Corridor, CorridorKind
from routewatch.store import Store
from tests.adapters.test_store import make_alert


def zone(cid: str, dx: float = 0.0) -> Corridor:
    return Corridor(cid, box(5.0 + dx, 52.0, 5.01 + dx, 52.01), CorridorKind.EXCLUSION)


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None) -> Result:
    from routewatch.cli.main import main

    if cwd is None:
        return CliRunner().invoke(main, list(args), input=input)
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), input=input)
    finally:
        os.chdir(old)


def one_line_refusal(res: Result, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    assert ("Traceback" not in res.output and res.exception is None) or isinstance(res.exception, SystemExit)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    yield path


CONFIG_ROWS = [
    # name, settings text (None: the path is given by the row), what the one line says
    ("nested 1,000 deep", "a: " + "[" * 1000 + "]" * 1000, "nested more than 32 levels deep"),
    ("nested mappings 1,000 deep", "".join(f"{' ' * i}k{i}:\n" for i in range(1000)), "nested more than 32"),
    ("duplicate section", "store:\n  url: sqlite:///a.db\nstore:\n  url: sqlite:///b.db\n",
     "duplicate key 'store'"),
    ("duplicate key in a section", "engine:\n  confirm_fixes: 2\n  confirm_fixes: 3\n",
     "line 3, column 3: not valid YAML (duplicate key 'confirm_fixes')"),
    ("invalid MQTT topic filter", "mqtt:\n  input:\n    enabled: true\n    topics: ['routewatch/v1/pos/#/x']\n",
     "mqtt.input.topics: invalid MQTT topic filter 'routewatch/v1/pos/#/x'"),
    ("'+' inside a level", "mqtt:\n  input:\n    topics: ['a/b+/c']\n", "invalid MQTT topic filter 'a/b+/c'"),
    ("empty topic filter", "mqtt:\n  input:\n    topics: ['']\n", "invalid MQTT topic filter ''"),
    ("invalid frigate topic", "mqtt:\n  input:\n    frigate_topic: 'frigate/#/events'\n", "frigate_topic"),
    ("wildcard in the alert prefix", "mqtt:\n  output:\n    topic_prefix: 'alerts/+'\n", "not a topic name"),
    ("empty file", "", None),
    ("a good file", "engine:\n  confirm_fixes: 2\n", None),
]


@pytest.mark.parametrize(("name", "text", "message"), CONFIG_ROWS, ids=[r[0] for r in CONFIG_ROWS])
def test_config_check_refusals(tmp_path: Path, name: str, text: str, message: str | None) -> None:
    f = tmp_path / "rw.yaml"
    f.write_text(text)
    res = run_cli("config", "check", str(f))
    if message is None:
        assert res.exit_code == 0, res.output
        return
    one_line_refusal(res, f"invalid configuration in {f}:", message)


SPECIAL_ROWS = [
    ("config check", "/dev/zero", "is a character device, not a regular file"),
    ("config check", "FIFO", "is a named pipe (FIFO), not a regular file"),
    ("corridors validate", "/dev/zero", "/dev/zero is a character device, not a regular file"),
    ("corridors validate", "FIFO", "is a named pipe (FIFO), not a regular file"),
    ("corridors validate", "EMPTY", "has no corridors: an empty set is refused"),
]


@pytest.mark.parametrize(("command", "path", "message"), SPECIAL_ROWS)
def test_special_files_are_refused_not_read(tmp_path: Path, fifo: Path, command: str, path: str,
                                            message: str) -> None:
    if path == "EMPTY":
        (tmp_path / "empty.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    given = {"FIFO": str(fifo), "EMPTY": str(tmp_path / "empty.geojson")}.get(path, path)
    one_line_refusal(run_cli(*command.split(), given), message)  # a FIFO would hang here if it were opened


@pytest.mark.parametrize(("name", "settings", "message"), [
    ("corridors.file is /dev/zero", {"corridors": {"file": "/dev/zero"}},
     "corridors.file /dev/zero: /dev/zero is a character device, not a regular file"),
    ("corridors.file is empty", {"corridors": {"file": "EMPTY"}}, "has no corridors: an empty set is refused"),
    ("bad MQTT topic filter", {"mqtt": {"input": {"enabled": True, "topics": ["a/#/b"]}}},
     "invalid MQTT topic filter 'a/#/b'"),
])
def test_run_refuses_at_start(tmp_path: Path, name: str, settings: dict[str, object], message: str) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    if settings.get("corridors") == {"file": "EMPTY"}:
        settings = {"corridors": {"file": str(empty)}}
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({"sources": [{"name": "t", "url": f"file:{write_tlog(tmp_path / 'p.tlog')}"}],
                               "store": {"url": f"sqlite:///{tmp_path / 'rw.db'}"}, **settings}))
    res = run_cli("run", "-c", str(cfg))
    one_line_refusal(res, message)


def test_run_refuses_corridors_in_force_that_span_the_globe(tmp_path: Path) -> None:
    """The file fits one frame, but a corridor saved in the database elsewhere is kept beside it."""
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    with Store(db) as store:
        store.upgrade()
        store.corridors.save([zone("far", 150.0)], author="planner", comment="another region", at=datetime.now(UTC))
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({"sources": [{"name": "t", "url": f"file:{write_tlog(tmp_path / 'p.tlog')}"}],
                               "corridors": {"file": str(corridors_path())}, "store": {"url": db}}))
    res = run_cli("run", "-c", str(cfg))
    one_line_refusal(res, "the corridors in force (the database's and corridors.file", "split the set by region")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("JSON lines", b'{"subject_id": "s1", "lon": 5.0, "lat": 52.0}\n' * 2000, "is JSON (or JSON lines), not a MAVLink"),
    ("an MP4 video", b"\x00\x00\x00\x20ftypisom" + bytes(100_000), "is a video (MP4/MOV), not a MAVLink telemetry log "
     "(.tlog): give --camera CAMERA.yaml"),
    ("text", b"hello world\n" * 1000, "no MAVLink message in its 12,000 bytes"),
    ("nothing", b"", "no MAVLink message in its 0 bytes"),
])
def test_analyze_refuses_what_is_not_mavlink(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    f = tmp_path / "input.bin"
    f.write_bytes(content)
    res = run_cli("analyze", str(f), "--db", f"sqlite:///{tmp_path / 'rw.db'}")
    assert res.exit_code == 2 and message in res.stderr, res.output


def test_corridor_import_refuses_empty_sets_and_unconfirmed_removals(db_url: str, tmp_path: Path) -> None:
    three = tmp_path / "three.geojson"
    three.write_text(dumps_geojson([zone("a"), zone("b", 0.02), zone("c", 0.04)]))
    one = tmp_path / "one.geojson"
    one.write_text(dumps_geojson([zone("a")]))
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    assert run_cli("corridors", "import", str(three), "--db", db_url).exit_code == 0
    one_line_refusal(run_cli("corridors", "import", str(empty), "--db", db_url), "has no corridors")
    one_line_refusal(run_cli("corridors", "import", "--replace", str(empty), "--db", db_url, "--expect-removed", "3"),
                     "has no corridors")
    for args in ([], ["--replace"], ["--expect-removed", "1"], ["--replace", "--expect-removed", "3"]):
        one_line_refusal(run_cli("corridors", "import", str(one), "--db", db_url, *args),
                         "would remove 2 stored corridor(s) the file does not name: b, c", "--expect-removed 2")
    with Store(db_url) as store:
        assert [c.id for c in store.corridors.current()] == ["a", "b", "c"]
    assert run_cli("corridors", "import", str(one), "--db", db_url, "--merge").exit_code == 0
    res = run_cli("corridors", "import", str(one), "--db", db_url, "--replace", "--expect-removed", "2")
    assert res.exit_code == 0 and "2 stored corridor(s) removed" in res.stdout, res.output
    with Store(db_url) as store:
        assert [c.id for c in store.corridors.current()] == ["a"]


STORE_COMMANDS = [
    # every command that opens the store, with -c and no --db
    ("db", "upgrade"),
    ("users", "add", "ana", "--role", "admin", "--password-stdin"),
    ("alerts", "list"),
    ("alerts", "ack", "abcd1234"),
    ("dead-letters",),
    ("corridors", "list"),
    ("corridors", "export"),
    ("corridors", "import", "CORRIDORS"),
    ("coverage", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-01T01:00:00Z"),
    ("backtest", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-01T01:00:00Z", "--workers", "1"),
    ("export", "--alert", "abcd1234", "--out", "OUT"),
    ("analyze", "TLOG"),
]


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=[" ".join(a[:2]) for a in STORE_COMMANDS])
def test_every_store_command_takes_the_settings_store_url(db_url: str, tmp_path: Path, args: tuple[str, ...],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTEWATCH_STORE__URL", raising=False)
    with Store(db_url) as store:
        store.upgrade()
        store.batches.write([AlertChange(Change.OPENED, dataclasses.replace(make_alert(), id="abcd1234"))], [])
        store.corridors.save([zone("a")], author="t", comment="", at=make_alert().opened_at)
    corridors = tmp_path / "c.geojson"
    corridors.write_text(dumps_geojson([zone("a")]))
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({"store": {"url": db_url}, "recording": {"dir": str(tmp_path / "rec")}}))
    given = [{"CORRIDORS": str(corridors), "OUT": str(tmp_path / "out"),
              "TLOG": str(write_tlog(tmp_path / "p.tlog"))}.get(a, a) for a in args]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    res = run_cli(*given, "-c", str(cfg), cwd=cwd, input="a long enough password\n")
    assert res.exit_code == 0 or args[0] == "export", res.output
    assert "No such option" not in res.output and not (cwd / "routewatch.db").exists(), res.output
    assert "no such table" not in res.output and "no alert with id" not in res.output, res.output
    if args[0] == "users":
        from routewatch.store.users import UserRepository

        with Store(db_url) as store:
            assert isinstance(store.users, UserRepository) and store.users.get("ana") is not None
    if args[:2] == ("alerts", "list"):
        assert "abcd1234" in res.stdout


def test_alerts_ack_takes_a_unique_prefix(db_url: str) -> None:
    with Store(db_url) as store:
        store.upgrade()
        store.batches.write([AlertChange(Change.OPENED, dataclasses.replace(make_alert(f"s{i}"), id=aid))
                     for i, aid in enumerate(("abcd1234ef", "abcd5678ef", "ffff0000ef"))], [])
    listed = run_cli("alerts", "list", "--db", db_url)
    assert "abcd1234" in listed.stdout
    one_line_refusal(run_cli("alerts", "ack", "abcd", "--db", db_url),
                     "alert id prefix 'abcd' is ambiguous; candidates: abcd1234ef, abcd5678ef")
    one_line_refusal(run_cli("alerts", "ack", "ab", "--db", db_url), "no alert with id 'ab' (a prefix needs at least 4")
    one_line_refusal(run_cli("alerts", "ack", "abce", "--db", db_url), "no alert with id 'abce'")
    res = run_cli("alerts", "ack", "abcd1234", "--db", db_url)
    assert res.exit_code == 0 and "acknowledged abcd1234ef" in res.stdout, res.output
    assert run_cli("alerts", "ack", "ffff0000ef", "--db", db_url).exit_code == 0  # a whole id still works


def test_alerts_list_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    with Store(db) as store:
        store.upgrade()
        store.batches.write([AlertChange(Change.OPENED, make_alert(f"s{i}", opened=i)) for i in range(3000)], [])
    proc = subprocess.run(f"{sys.executable} -m routewatch alerts list --json --limit 3000 --db {db} | head -1",
                          shell=True, capture_output=True, text=True, timeout=120,
                          executable="/bin/bash", env={**os.environ, "PYTHONUNBUFFERED": ""})
    assert len(proc.stdout.splitlines()) == 1 and json.loads(proc.stdout)["subject_id"] == "s0"
    assert proc.stderr == ""
    status = subprocess.run(f"set -o pipefail; {sys.executable} -m routewatch alerts list --json --limit 3000 "
                            f"--db {db} | head -1 >/dev/null", shell=True, executable="/bin/bash", timeout=120)
    assert status.returncode == 0


def test_output_into_a_file_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    ids = [f"corridor-with-a-long-id-{i}" for i in range(4)]
    f = tmp_path / "c.geojson"
    f.write_text(dumps_geojson([zone(cid, 0.02 * i) for i, cid in enumerate(ids)]))
    res = run_cli("corridors", "validate", str(f))
    assert res.exit_code == 0
    (line,) = res.stdout.splitlines()  # one line, however long
    assert len(line) > 120 and all(cid in line for cid in ids)


@pytest.mark.parametrize(("area", "needles"), [
    ({"id": "west", "file": "missing.geojson"}, ("sectors.areas[west].file", "missing.geojson")),
    ({"id": "west", "polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 95], [0, 0]]]}},
     ("sectors.areas[west].polygon",)),
])
@pytest.mark.parametrize("command", [("run", "-c"), ("config", "check")])
def test_a_bad_sector_area_is_refused_before_starting(tmp_path, area, needles, command):
    cfg = tmp_path / "worker.yaml"
    cfg.write_text(json.dumps({"store": {"url": f"sqlite:///{tmp_path / 'rw.db'}"},
                               "mqtt": {"input": {"enabled": True}}, "sectors": {"areas": [area], "own": "west"}}))
    res = run_cli(*command, str(cfg))
    one_line_refusal(res, *needles)
    assert not (tmp_path / "rw.db").exists()  # refused before anything was opened


def test_config_check_names_the_sector(tmp_path):
    cfg = tmp_path / "worker.yaml"
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    cfg.write_text(json.dumps({"sectors": {"areas": [{"id": "west", "polygon": polygon}], "own": "west",
                                           "margin_m": 50}}))
    res = run_cli("config", "check", str(cfg))
    assert res.exit_code == 0, res.output
    assert "sector west of 1 (margin 50 m)" in " ".join(res.output.split())
