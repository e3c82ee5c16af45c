"""Helpers for end-to-end MQTT tests: a scenario of position reports, its expected alerts, clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from routewatch.config.schema import Settings
from routewatch.geo.corridors import dumps_geojson
from routewatch.model import Alert, Corridor, Observation
from routewatch.pipeline.core import Pipeline
from tests.kits.engine import FRAME, box, line

CORRIDORS: tuple[Corridor, ...] = (box("yard", 0, 0, 100, 100), line("fence-line", [(0, -600), (0, 600)]))


@dataclass(frozen=True)
class Report:
    """One position report as published, and the observation it must become."""

    topic: str
    payload: bytes
    obs: Observation


def scenario(subjects: int = 50, fixes: int = 200, source: str = "trk") -> list[Report]:
    """Subjects walking east at 2-4 m/s through the yard and across the fence line, 1 Hz, interleaved."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    out = []
    for i in range(fixes):
        t = t0 + timedelta(seconds=i)
        for k in range(subjects):
            x = -250.0 + (2.0 + (k % 3)) * i
            y = -300.0 + 12.0 * k
            lon, lat = FRAME.lonlat(x, y)
            body = {"subject_id": f"s{k}", "class": "person", "time": t.isoformat().replace("+00:00", "Z"),
                    "lon": round(lon, 8), "lat": round(lat, 8)}
            obs = Observation(f"{source}/s{k}", t, round(lon, 8), round(lat, 8), subject_class="person",
                              source=source)
            out.append(Report(f"routewatch/v1/pos/{source}", json.dumps(body).encode(), obs))
    return out


def expected_alerts(reports: list[Report], settings: Settings) -> dict[str, Alert]:
    """The alerts a correct run must end with, computed by the pure pipeline in publish order."""
    p = Pipeline(list(CORRIDORS), settings.engine, settings.alerts)
    final: dict[str, Alert] = {}
    for r in reports:
        for c in p.feed(r.obs):
            final[c.alert.id] = c.alert
    for c in p.finish():
        final[c.alert.id] = c.alert
    return final


def write_config(path: Path, *, port: int, db_url: str, client_id: str, journal: Path,
                 topics: tuple[str, ...] = ("routewatch/v1/pos/+",),
                 corridor_set: tuple[Corridor, ...] = CORRIDORS) -> Path:
    """A settings file for `routewatch run` on the private broker, with the test corridors (or `corridor_set`)."""
    corridors = path.parent / "corridors.geojson"
    corridors.write_text(dumps_geojson(list(corridor_set)))
    cfg = {
        "corridors": {"file": str(corridors)},
        "store": {"url": db_url, "flush_s": 0.1, "journal_dir": str(journal)},
        "mqtt": {"broker": {"host": "127.0.0.1", "port": port, "client_id": client_id,
                            "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
                 "input": {"enabled": True, "topics": list(topics)},
                 "output": {"enabled": True}},
    }
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def start_routewatch(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """`python -m routewatch run -c CONFIG` as a user would start it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(config)], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def client(port: int, client_id: str, clean: bool = False) -> mqtt.Client:
    """A connected paho client (MQTT 5, persistent session unless `clean`)."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.reconnect_delay_set(0.1, 1.0)
    c.connect("127.0.0.1", port, clean_start=clean, properties=props)
    c.loop_start()
    return c


@dataclass
class AlertTopic:
    """Everything published on routewatch/v1/alerts/#, as parsed JSON."""

    messages: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, port: int, client_id: str) -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600

        def on_connect(cl, _u, _f, _rc, _p=None):
            cl.subscribe("routewatch/v1/alerts/#", qos=1)

        def on_message(_c, _u, msg):
            with self.lock:
                self.messages.append(json.loads(msg.payload))

        c.on_connect, c.on_message = on_connect, on_message
        c.reconnect_delay_set(0.1, 1.0)
        c.connect("127.0.0.1", port, clean_start=False, properties=props)
        c.loop_start()
        return c

    def change_keys(self) -> list[tuple[str, str, int]]:
        with self.lock:
            return [(m["id"], m["change"], m["updates"]) for m in self.messages]


def publish_all(c: mqtt.Client, reports: list[Report]) -> None:
    """Publish at QoS 1 and wait until the broker has acknowledged every report sent (a held one: see below)."""
    infos = []
    for r in reports:
        infos.append(c.publish(r.topic, r.payload, qos=1))
    for info in infos:
        # Published while the broker was away: paho keeps it and sends it after reconnecting; the
        # test's end-state check (every report stored) is what proves it arrived.
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            info.wait_for_publish(timeout=120)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str | Callable[[], str]) -> None:
    """Poll until `check()` holds; `what` (or what it returns, built only on failure) names the wait."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.2)


def wait_online(port: int, client_id: str, timeout_s: float = 60) -> None:
    """Wait for routewatch's retained status on the broker to say online (it has subscribed by then)."""
    state: dict[str, str] = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{client_id}-{time.monotonic_ns()}",
                    protocol=mqtt.MQTTv5)

    def on_message(_c, _u, msg):
        state["s"] = json.loads(msg.payload).get("state", "")

    c.on_message = on_message
    c.on_connect = lambda cl, *_a: cl.subscribe(f"routewatch/v1/status/{client_id}", qos=1)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        wait_for(lambda: state.get("s") == "online", timeout_s, f"{client_id} online")
    finally:
        c.loop_stop()
        c.disconnect()
