"""End to end: logs in, alerts out, through the CLI and the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import shapely
from click.testing import CliRunner

from routewatch.app.demo.scenario import corridors_path, write_tlog
from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson
from routewatch.geo.fencefile import parse_fence_file
from routewatch.store import Store


def cli(*args: str) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


def alerts_json(db: str) -> list[dict]:
    return [json.loads(line) for line in cli("alerts", "list", "--db", db, "--json").splitlines() if line]


@pytest.fixture
def cmac_fence(shared_data: Path, tmp_path: Path) -> Path:
    fence = parse_fence_file((shared_data / "geo" / "ardupilot_CMAC-fence.txt").read_text(), id="cmac-fence")
    out = tmp_path / "cmac.geojson"
    out.write_text(dumps_geojson([fence]))
    return out


def test_real_flight_breaches_cmac_fence_a_few_times(db_url, shared_data, cmac_fence, tmp_path):
    tlog = shared_data / "mavlink" / "dronekit_flight_replay_flight.tlog"
    summary = json.loads(cli("analyze", str(tlog), "--corridors", str(cmac_fence), "--db", db_url, "--json"))
    assert summary["positions"] > 2600
    assert summary["ingest"]["corrupt"] > 1000

    alerts = alerts_json(db_url)
    assert alerts and {a["kind"] for a in alerts} == {"breach"}

    store = Store(db_url)
    fence = shapely.Polygon(json.loads(cmac_fence.read_text())["features"][0]["geometry"]["coordinates"][0])
    subject = alerts[0]["subject_id"]
    fixes = store.positions.of_subject(subject)
    # Each alert's evidence names the stored track segment of its episode.
    for a in alerts:
        ref = parse_qs(next(e for e in a["evidence"] if e.startswith("positions?")).split("?", 1)[1])
        start, end = (datetime.fromisoformat(ref[k][0]) for k in ("since", "until"))
        seg = store.positions.of_subject(ref["subject"][0], since=start, until=end + timedelta(microseconds=1))
        assert seg and seg[0].time.isoformat() == a["opened_at"] and seg[-1].time == end
    store.close()
    outside = [not fence.contains(shapely.Point(o.lon, o.lat)) for o in fixes]
    raw_crossings = sum(a != b for a, b in itertools.pairwise(outside))
    # Fix by fix the flight crosses the fence dozens of times; hysteresis and cooldown make episodes.
    assert raw_crossings >= 30
    assert 1 <= len(alerts) <= 6, [(a["opened_at"], a["closed_at"]) for a in alerts]
    by_time = {o.time.isoformat(): ok for o, ok in zip(fixes, outside, strict=True)}
    for a in alerts:
        assert by_time[a["opened_at"]] is True, "a breach opens at a fix outside the fence"
        assert "2015-07-05T00:27" <= a["opened_at"] <= "2015-07-05T00:45"
        if a["closed_at"]:
            assert a["closed_at"] > a["opened_at"]
            assert by_time[a["closed_at"]] is False, "a breach closes at the fix back inside"


def test_replay_is_deterministic_and_idempotent(db_url, shared_data, cmac_fence, tmp_path):
    tlog = str(shared_data / "mavlink" / "dronekit_flight_replay_flight.tlog")
    cli("analyze", tlog, "--corridors", str(cmac_fence), "--db", db_url, "--quiet")
    first = alerts_json(db_url)
    cli("analyze", tlog, "--corridors", str(cmac_fence), "--db", db_url, "--quiet")
    assert alerts_json(db_url) == first  # same ids, no duplicates
    other = f"sqlite:///{tmp_path / 'again.db'}"
    cli("analyze", tlog, "--corridors", str(cmac_fence), "--db", other, "--quiet")
    assert alerts_json(other) == first


def test_no_fix_log_gives_no_positions(db_url, shared_data, cmac_fence):
    tlog = shared_data / "mavlink" / "dronekit_log_upload_test.tlog"
    summary = json.loads(cli("analyze", str(tlog), "--corridors", str(cmac_fence), "--db", db_url, "--json"))
    assert summary["positions"] == 0 and summary["alerts_opened"] == {}
    assert alerts_json(db_url) == []


DEMO_EXPECTED = {
    ("enter", "odid:RID-SMUGGLER-0042", "arroyo-trail"),
    ("along", "odid:RID-SMUGGLER-0042", "arroyo-trail"),
    ("dwell", "odid:RID-SMUGGLER-0042", "arroyo-trail"),
    ("cross", "odid:RID-SMUGGLER-0042", "border-east"),
    ("cross", "adsb:A1B2C3", "border-east"),
    ("enter", "adsb:A1B2C3", "ranch-exclusion"),
    ("enter", "odid:RID-LOITER-0007", "ranch-exclusion"),
    ("dwell", "odid:RID-LOITER-0007", "ranch-exclusion"),
    ("breach", "patrol/1", "patrol-box"),
}


def test_demo_scenario_raises_the_expected_alerts(db_url, tmp_path):
    tlog = write_tlog(tmp_path / "patrol.tlog")
    cli("analyze", str(tlog), "--corridors", str(corridors_path()), "--db", db_url, "--quiet")
    alerts = alerts_json(db_url)
    assert {(a["kind"], a["subject_id"], a["corridor_id"]) for a in alerts} == DEMO_EXPECTED
    along = next(a for a in alerts if a["kind"] == "along")
    assert along["heading_deg"] is not None and (along["heading_deg"] < 45 or along["heading_deg"] > 315)
    cross = [a for a in alerts if a["kind"] == "cross"]
    assert all(abs(a["lat"] - 31.3325) < 1e-4 for a in cross)  # on the border line
    assert {a["corridor_version"] for a in alerts} == {1}
    json_line_keys = {"id", "kind", "corridor_id", "subject_id", "subject_class", "opened_at", "closed_at", "lat",
                      "lon", "severity", "state"}
    assert all(json_line_keys <= set(a) for a in alerts)


BAD = [
    ("missing input", ["analyze", "nope.tlog"], "does not exist"),
    ("bad db url", ["analyze", "{tlog}", "--db", "mysql://x"], "unsupported database URL"),
    ("bad corridor file", ["analyze", "{tlog}", "--corridors", "{bad}"], "missing id"),
    ("unknown alert kind", ["alerts", "list", "--kind", "teleport"], "Invalid value"),
    ("ack unknown id", ["alerts", "ack", "nope", "--db", "{db}"], "no alert with id"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_reported(name, args, message, tmp_path):
    tlog = write_tlog(tmp_path / "p.tlog")
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "exclusion"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    argv = [a.format(tlog=tlog, bad=bad, db=db) for a in args]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2
    assert message in res.output, res.output


def test_corrupt_log_is_counted_not_fatal(tmp_path):
    import random

    junk = tmp_path / "junk.tlog"
    rnd = random.Random(3)
    junk.write_bytes(bytes(rnd.randrange(256) for _ in range(200_000)))
    res = CliRunner().invoke(main, ["analyze", str(junk), "--db", f"sqlite:///{tmp_path / 'j.db'}", "--json"])
    summary = json.loads(res.stdout)
    assert summary["positions"] == 0
    assert summary["ingest"]["resync_bytes"] > 100_000  # unusable bytes are accounted for
    # Not one message in it: said, and a failure for a script (not "0 messages" and exit 0).
    assert res.exit_code == 2 and "no MAVLink message in its 200,000 bytes" in res.stderr


def test_corridors_cli_round_trip(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cli("corridors", "validate", str(corridors_path()))
    out = cli("corridors", "import", str(corridors_path()), "--db", db)
    assert "arroyo-trail v1" in out
    assert "arroyo-trail v1" in cli("corridors", "import", str(corridors_path()), "--db", db)  # unchanged
    exported = tmp_path / "out.geojson"
    cli("corridors", "export", "--db", db, "-o", str(exported))
    data = json.loads(exported.read_text())
    arroyo = next(f for f in data["features"] if f["properties"]["id"] == "arroyo-trail")
    arroyo["properties"]["width_m"] = 400
    exported.write_text(json.dumps(data))
    out = cli("corridors", "import", str(exported), "--db", db)
    assert "arroyo-trail v2" in out and "border-east v1" in out
    assert "4 corridor(s)" in cli("corridors", "list", "--db", db)
    kml = cli("corridors", "export", "--db", db, "--format", "kml")
    assert kml.lstrip().startswith("<?xml") and "arroyo-trail" in kml


def test_realtime_replay_paces_by_record_time_and_gives_the_same_alerts(tmp_path):
    import time

    tlog = write_tlog(tmp_path / "p.tlog")
    fast, slow = f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'slow.db'}"
    cli("analyze", str(tlog), "--corridors", str(corridors_path()), "--db", fast, "--quiet")
    t = time.monotonic()
    cli("analyze", str(tlog), "--corridors", str(corridors_path()), "--db", slow, "--quiet", "--realtime",
        "--speed", "500")
    # 600 s of record time at 500x cannot take less than 1.2 s (a lower bound only: never flaky under load).
    assert time.monotonic() - t >= 1.2 * 0.95
    assert alerts_json(slow) == alerts_json(fast)


@pytest.mark.parametrize("bad", ['{"type": "Point", "coordinates": [0, 0]}', "not json",
                                 '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}'])
def test_alerts_within_an_area(db_url, tmp_path, bad):
    tlog = write_tlog(tmp_path / "patrol.tlog")
    cli("analyze", str(tlog), "--corridors", str(corridors_path()), "--db", db_url, "--quiet")
    everything = alerts_json(db_url)
    ranch = next(f for f in json.loads(corridors_path().read_text())["features"]
                 if f["properties"]["id"] == "ranch-exclusion")
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps({"type": "FeatureCollection", "features": [ranch]}))
    poly = shapely.geometry.shape(ranch["geometry"])
    got = [json.loads(x) for x in cli("alerts", "list", "--db", db_url, "--json", "--within", str(area)).splitlines()]
    want = [a for a in everything if poly.intersects(shapely.Point(a["lon"], a["lat"]))]
    assert got == want and 0 < len(got) < len(everything)
    (tmp_path / "bad.geojson").write_text(bad)
    res = CliRunner().invoke(main, ["alerts", "list", "--db", db_url, "--within", str(tmp_path / "bad.geojson")])
    assert res.exit_code == 2 and "--within" in res.output


def test_dead_letters_command_lists_what_was_refused(db_url):
    from datetime import UTC, datetime

    from routewatch.model import DeadLetter
    from routewatch.store import open_store

    store = open_store(db_url)
    t = datetime(2026, 3, 1, tzinfo=UTC)
    store.batches.write([], [], [DeadLetter("routewatch/v1/pos/x", "bad JSON: Expecting value", "{oops", t, 5)])
    store.close()
    rows = [json.loads(x) for x in cli("dead-letters", "--db", db_url, "--json").splitlines()]
    assert rows == [{"topic": "routewatch/v1/pos/x", "reason": "bad JSON: Expecting value", "payload_excerpt": "{oops",
                     "received_at": t.isoformat(), "size_bytes": 5}]
    assert "1 of 1 dead letter(s)" in cli("dead-letters", "--db", db_url)
