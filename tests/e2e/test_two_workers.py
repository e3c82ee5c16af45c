"""Two `routewatch run` workers, one broker, one PostgreSQL: each alert once, corridor edits reach both."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from routewatch.config.schema import Settings
from routewatch.geo.corridors import dumps_geojson
from routewatch.store import Store
from tests.kits.engine import box, fixes, walk
from tests.kits.mqtt_broker import private_broker

from .mqttkit import (
    CORRIDORS,
    AlertTopic,
    client,
    expected_alerts,
    publish_all,
    scenario,
    start_routewatch,
    wait_for,
    wait_online,
    write_config,
)

pytestmark = pytest.mark.slow


def _state(url: str) -> tuple[dict, int, int]:
    with Store(url) as store:
        alerts = {a.id: a for a in store.alerts.find(limit=100_000)}
        return alerts, store.positions.count(), store.outbox.count_unpublished()


def test_two_workers_share_the_sources(postgres_db_url, tmp_path):
    url = postgres_db_url
    north, south = scenario(20, 100, source="north"), scenario(20, 100, source="south")
    reports = sorted(north + south, key=lambda r: r.obs.time)
    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        topic = AlertTopic()
        sub = topic.subscribe(broker.port, "test-alerts")
        procs = []
        try:
            for name, src, publish in (("a", "north", True), ("b", "south", False)):
                cfg = write_config(tmp_path / f"{name}.yaml", port=broker.port, db_url=url, client_id=f"rw-{name}",
                                   journal=tmp_path / f"journal-{name}", topics=(f"routewatch/v1/pos/{src}",))
                data = json.loads(cfg.read_text())
                data["mqtt"]["output"]["enabled"] = publish  # one publisher per database (see docs/operator.md)
                cfg.write_text(json.dumps(data))
                procs.append(start_routewatch(cfg, tmp_path / f"{name}.log"))
                wait_online(broker.port, f"rw-{name}")
            pub = client(broker.port, "test-pub")
            publish_all(pub, reports)
            wait_for(lambda: _state(url)[1] == len(reports), 120, "all reports stored")

            # Phase 2: a planner widens the yard; both workers must pick up version 2 without a restart.
            wider = [box("yard", 0, 0, 300, 300), CORRIDORS[1]]
            edited = tmp_path / "edited.geojson"
            edited.write_text(dumps_geojson(wider))
            subprocess.run([sys.executable, "-m", "routewatch", "corridors", "import", str(edited), "--db", url],
                           check=True, capture_output=True, timeout=60)
            wait_for(lambda: all("corridor set changed" in (tmp_path / f"{n}.log").read_text() for n in "ab"), 30,
                     "both workers reloading the corridors")
            # A late subject per source walks south into the widened part, a fix a second after the stream.
            path = fixes(walk(150, 600, 150, 150, 45))
            late = []
            for k, o in enumerate(path):
                t = (reports[-1].obs.time + timedelta(seconds=1 + k)).isoformat().replace("+00:00", "Z")
                for src in ("north", "south"):
                    body = {"subject_id": f"late-{src}", "class": "person", "time": t, "lon": o.lon, "lat": o.lat}
                    late.append(body)
                    pub.publish(f"routewatch/v1/pos/{src}", json.dumps(body).encode(), qos=1).wait_for_publish(30)
            wait_for(lambda: {(a.subject_id, a.corridor_version) for a in _state(url)[0].values()
                              if a.corridor_id == "yard" and a.subject_id.startswith(("north/late", "south/late"))}
                     == {("north/late-north", 2), ("south/late-south", 2)}, 60, "alerts under version 2 from both")
            wait_for(lambda: _state(url)[2] == 0, 60, "every change published")
            for p in procs:
                p.send_signal(signal.SIGINT)
            assert [p.wait(timeout=60) for p in procs] == [0, 0]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            sub.loop_stop()
    alerts, positions, unpublished = _state(url)
    assert positions == len(reports) + len(late) and unpublished == 0
    want = expected_alerts(reports, Settings())
    first_phase = {k: a for k, a in alerts.items() if "/late-" not in a.subject_id}
    assert {k: (a.kind, a.opened_at) for k, a in first_phase.items()} == {
        k: (a.kind, a.opened_at) for k, a in want.items()}
