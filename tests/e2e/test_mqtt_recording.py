"""`routewatch record` on a real (private) Mosquitto, then `routewatch analyze` of the recording: the same
positions, alerts and dead letters as the live run of the same messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from routewatch.config.schema import Settings
from routewatch.model import Observation
from routewatch.store import Store
from tests.kits.engine import FRAME
from tests.kits.mqtt_broker import private_broker

from .mqttkit import Report, client, expected_alerts, scenario, start_routewatch, wait_for, wait_online, write_config

pytestmark = pytest.mark.slow
TOPICS = ("routewatch/v1/pos/+", "routewatch/v1/det/+")
# Refused alike live and replayed: a position without a usable time, and bytes that are not JSON.
BAD = (("routewatch/v1/pos/trk", json.dumps({"subject_id": "x", "time": "noon", "lon": 149.1, "lat": -35.3}).encode()),
       ("routewatch/v1/det/cam-a", b"\x00\xffnot json"))


def with_detections(reports: list[Report]) -> list[Report]:
    """The walkers' pos.v1 reports, with a car seen by camera cam-a (det.v1) driving through the yard, by time."""
    t0 = reports[0].obs.time
    dets = []
    for i in range(40):
        t = t0 + timedelta(seconds=10 + i)
        lon, lat = (round(v, 8) for v in FRAME.lonlat(-50.0 + 5.0 * i, 50.0))
        body = {"time": t.isoformat().replace("+00:00", "Z"), "seq": i,
                "detections": [{"track_id": "7", "class": "car", "confidence": 0.9, "lon": lon, "lat": lat}]}
        obs = Observation("cam-a/7", t, lon, lat, subject_class="car", confidence=0.9, source="cam-a")
        dets.append(Report("routewatch/v1/det/cam-a", json.dumps(body).encode(), obs))
    return sorted([*reports, *dets], key=lambda r: r.obs.time)  # stable: each second's reports, then its car


def stored(db_url: str) -> tuple[list[tuple], dict[str, tuple], set[tuple]]:
    """Positions, alerts by id and dead letters of a database, in comparable form."""
    with Store(db_url) as store:
        positions = sorted((o.subject_id, o.time, o.lon, o.lat, o.subject_class) for o in
                           store.positions.since(datetime(2000, 1, 1, tzinfo=UTC)))
        alerts = {a.id: (a.kind, a.state, a.subject_id, a.corridor_id, a.opened_at, a.closed_at)
                  for a in store.alerts.find(limit=10_000)}
        dead = {(d.topic, d.reason, d.payload_excerpt, d.size_bytes) for d in store.dead_letters.recent(limit=1000)}
    return positions, alerts, dead


def routewatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "routewatch", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_recorded_night_analyzes_to_what_the_live_run_stored(tmp_path):
    reports = with_detections(scenario(subjects=10, fixes=120))
    messages = [(r.topic, r.payload) for r in reports]
    messages[300:300] = [BAD[0]]
    messages[700:700] = [BAD[1]]
    live_db, replay_db = f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'replay.db'}"
    rec = tmp_path / "night.jsonl"
    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        cfg = write_config(tmp_path / "rw.yaml", port=broker.port, db_url=live_db, client_id="rw-live",
                           journal=tmp_path / "journal", topics=TOPICS)
        live = start_routewatch(cfg, tmp_path / "live.log")
        recorder = subprocess.Popen([sys.executable, "-m", "routewatch", "record", "-c", str(cfg), "--out", str(rec)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            wait_online(broker.port, "rw-live")
            wait_online(broker.port, "rw-live-record")  # subscribed by then
            pub = client(broker.port, "test-publisher", clean=True)
            infos = [pub.publish(topic, payload, qos=1) for topic, payload in messages]
            for info in infos:
                info.wait_for_publish(timeout=60)
            pub.loop_stop()
            pub.disconnect()

            def lines() -> int:
                return rec.read_bytes().count(b"\n") if rec.exists() else 0

            wait_for(lambda: lines() == len(messages), 60, lambda: f"{len(messages)} lines recorded, not {lines()}")
            with Store(live_db) as store:
                wait_for(lambda: (store.positions.count(), store.dead_letters.count()) == (len(reports), 2), 60,
                         "the live run to store every report and both dead letters")
        finally:
            recorder.send_signal(signal.SIGTERM)
            out, err = recorder.communicate(timeout=60)
            live.send_signal(signal.SIGTERM)
            live.wait(60)
    assert recorder.returncode == 0, err
    assert f"recorded {len(messages):,} message(s)" in out
    assert live.returncode == 0, (tmp_path / "live.log").read_text()[-3000:]

    # Each line is the message as received: JSON payloads byte for byte, the rest as base64.
    recorded = [json.loads(line) for line in rec.read_text().splitlines()]
    assert [r["topic"] for r in recorded] == [topic for topic, _ in messages]
    assert [("payload_b64" in r) for r in recorded] == [not p.startswith(b"{") for _, p in messages]
    assert all(r["received_at"].endswith("Z") for r in recorded)

    res = routewatch("analyze", str(rec), "--corridors", str(tmp_path / "corridors.geojson"), "--db", replay_db,
                     "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert (summary["ingest"]["recording_lines"], summary["ingest"]["recording_bad_lines"],
            summary["ingest"]["dead_letters"], summary["positions"]) == (len(messages), 0, 2, len(reports))
    assert summary["publishers"] == {"routewatch/v1/det/cam-a": {"received": 40, "gaps": 0, "repeats": 0,
                                                                  "restarts": 0}}

    live_positions, live_alerts, live_dead = stored(live_db)
    positions, alerts, dead = stored(replay_db)
    want = expected_alerts(reports, Settings())
    assert positions == live_positions == sorted((r.obs.subject_id, r.obs.time, r.obs.lon, r.obs.lat,
                                                  r.obs.subject_class) for r in reports)
    assert alerts == live_alerts == {k: (a.kind, a.state, a.subject_id, a.corridor_id, a.opened_at, a.closed_at)
                                     for k, a in want.items()}
    assert {a[3] for a in alerts.values()} == {"yard", "fence-line"}  # the car entered the yard, walkers crossed
    assert dead == live_dead
    assert sorted(reason.split(":")[0] for _, reason, _, _ in dead) == ["bad JSON", "bad time"]
