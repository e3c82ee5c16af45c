"""Scale-out by sector: two `routewatch run` workers owning west and east raise what one worker raises.

Real Mosquitto (a private broker) and real PostgreSQL. Walkers cross lines in both sectors; one walks
from west to east and crosses a line half a metre after the boundary, between a west fix and an east
one; one walks in no sector (the default sector's worker owns it). The margin is 0, so the handover
rests on the last fix the east worker remembers of the walker before it arrived.
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from routewatch.config.schema import Settings
from routewatch.geo.sectors import SectorMap, load_sector
from routewatch.model import Alert
from routewatch.pipeline.core import Pipeline
from routewatch.store import Store
from tests.conftest import _reset_postgres
from tests.kits.mqtt_broker import private_broker
from tests.kits.sectorscene import CORRIDORS, observations, sector_areas

from .mqttkit import Report, client, publish_all, start_routewatch, wait_for, wait_online, write_config

pytestmark = pytest.mark.slow


def _reports(t0: datetime) -> list[Report]:
    out = []
    for o in observations(t0):
        body = {"subject_id": o.subject_id.removeprefix("field/"), "class": "person",
                "time": o.time.isoformat().replace("+00:00", "Z"), "lon": o.lon, "lat": o.lat}
        out.append(Report("routewatch/v1/pos/field", json.dumps(body).encode(), o))
    return out


def _stored(url: str) -> tuple[dict[str, Alert], int, int]:
    with Store(url) as store:
        return ({a.id: a for a in store.alerts.find(limit=100_000)}, store.positions.count(),
                store.dead_letters.count())


def _key(a: Alert) -> tuple:
    return a.kind, a.corridor_id, a.subject_id, a.opened_at, a.closed_at, a.state, a.updates


def _run_workers(tmp: Path, url: str, reports: list[Report], owners: tuple[str | None, ...]) -> list[str]:
    """Start one worker per owner (None: no sectors), publish, wait until stored, stop; their logs."""
    tmp.mkdir()
    (tmp / "broker").mkdir()
    logs = [tmp / f"{o or 'all'}.log" for o in owners]
    with private_broker(tmp / "broker") as broker:
        procs = []
        try:
            for i, (own, log) in enumerate(zip(owners, logs, strict=True)):
                name = f"rw-{own or 'all'}"
                cfg = write_config(tmp / f"{name}.yaml", port=broker.port, db_url=url, client_id=name,
                                   journal=tmp / f"journal-{name}", corridor_set=CORRIDORS)
                data = json.loads(cfg.read_text())
                data["mqtt"]["output"]["enabled"] = i == 0  # one publisher per database
                if own is not None:
                    data["sectors"] = {"areas": sector_areas(), "own": own, "margin_m": 0}
                cfg.write_text(json.dumps(data))
                procs.append(start_routewatch(cfg, log))
                wait_online(broker.port, name)
            bad = Report("routewatch/v1/pos/field", b"{not json", reports[0].obs)  # every worker gets it
            publish_all(client(broker.port, "test-pub"), [*reports[:500], bad, *reports[500:]])
            wait_for(lambda: _stored(url)[1:] == (len(reports), 1), 120,
                     "every position stored (by its owner), and the dead letter")
            for p in procs:
                p.send_signal(signal.SIGINT)
            assert [p.wait(timeout=60) for p in procs] == [0] * len(procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
    return [" ".join(log.read_text().split()) for log in logs]


def test_two_sector_workers_raise_what_one_worker_raises(postgres_db_url, tmp_path):
    url = postgres_db_url
    reports = _reports(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))

    pure = Pipeline(CORRIDORS, Settings().engine, Settings().alerts)
    want: dict[str, Alert] = {}
    for ch in [*pure.feed_many([r.obs for r in reports]), *pure.finish()]:
        want[ch.alert.id] = ch.alert
    crossed = {(a.subject_id, a.corridor_id) for a in want.values()}
    assert {("field/handover", "edge-line"), ("field/far", "far-line"), ("field/w0", "west-line"),
            ("field/e0", "east-line")} <= crossed

    _run_workers(tmp_path / "one", url, reports, (None,))
    one, positions, dead = _stored(url)
    assert (positions, dead) == (len(reports), 1)

    _reset_postgres(url)
    west_log, east_log = _run_workers(tmp_path / "two", url, reports, ("west", "east"))
    two, positions, dead = _stored(url)
    assert (positions, dead) == (len(reports), 1)  # each position and the bad message stored once

    assert {k: _key(a) for k, a in two.items()} == {k: _key(a) for k, a in one.items()} == {
        k: _key(a) for k, a in want.items()}
    # Nothing silent: each worker says what it owned and what it left to the other. West owns its walkers
    # and the walker in no sector (it is the default); the east, its own and the handover's east part.
    n_far = sum(1 for r in reports if r.obs.subject_id == "field/far")
    east = SectorMap([load_sector(a["id"], a["polygon"], None) for a in sector_areas()], own="east",
                     default="west", margin_m=0)
    n_east = sum(east.owns(r.obs.lon, r.obs.lat) for r in reports)
    assert f"{len(reports) - n_east:,} owned (of them {n_far:,} in no sector" in west_log
    assert f"{n_east:,} outside" in west_log
    assert f"{n_east:,} owned (of them 0 in no sector" in east_log
    assert f"{len(reports) - n_east:,} outside" in east_log
    assert "1 dead letters stored by the default sector's worker" in east_log
    assert "dead letters stored by the default" not in west_log

