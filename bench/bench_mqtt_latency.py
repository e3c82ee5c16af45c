"""Alert latency over MQTT: a position report published to Mosquitto -> alert committed -> alert received.

Usage: python bench/bench_mqtt_latency.py [--rates 1000 10000] [--seconds 10]

Starts a private Mosquitto and `routewatch run` (SQLite) on this machine. For each rate, subjects
walk across a line; the report that confirms each crossing is known in advance (the pure pipeline is
run over the same reports), so latency = time the alert arrives on routewatch/v1/alerts/cross minus
the time that report was published. Baseline in the same run: a plain message's round trip through
the same broker at the same rate. Then the throughput ceiling: reports published as fast as
possible, until all are stored. Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from shapely.geometry import LineString

from routewatch.config.schema import Settings
from routewatch.geo.corridors import dumps_geojson
from routewatch.geo.crs import LocalFrame
from routewatch.model import Change, Corridor, CorridorKind, Observation
from routewatch.pipeline.core import Pipeline

FRAME = LocalFrame(10.0, 50.0)
LINE = Corridor("line", FRAME.to_lonlat(LineString([(0, -1e5), (0, 1e5)])), kind=CorridorKind.LINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def connect(port: int, cid: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def reports(rate: int, seconds: float, t0: datetime, tag: str) -> tuple[list[tuple[str, bytes]], dict[str, int]]:
    """`rate` subjects, one fix each per second of event time, crossing the line once; trigger index by alert id."""
    out: list[tuple[str, bytes]] = []
    obs: list[Observation] = []
    steps = int(seconds)
    for i in range(steps):
        t = t0 + timedelta(seconds=i)
        for k in range(rate):
            x = -3.0 * steps / 2 + 3.0 * i + (k % 7)  # everyone crosses x=0 around the middle
            lon, lat = FRAME.lonlat(x, 20.0 * k)
            body = {"subject_id": f"{tag}{k}", "class": "person", "time": t.isoformat().replace("+00:00", "Z"),
                    "lon": round(lon, 9), "lat": round(lat, 9)}
            out.append((f"routewatch/v1/pos/{tag}", json.dumps(body).encode()))
            obs.append(Observation(f"{tag}/{tag}{k}", t, round(lon, 9), round(lat, 9), subject_class="person",
                                   source=tag))
    p = Pipeline([LINE], Settings().engine, Settings().alerts)
    trigger: dict[str, int] = {}
    for idx, o in enumerate(obs):
        for ch in p.feed(o):
            if ch.change is Change.OPENED:
                trigger.setdefault(ch.alert.id, idx)
    return out, trigger


def pctl(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def paced_publish(c: mqtt.Client, msgs: list[tuple[str, bytes]], rate: int) -> list[float]:
    sent = []
    start = time.perf_counter()
    for i, (topic, payload) in enumerate(msgs):
        due = start + i / rate
        while (now := time.perf_counter()) < due:
            time.sleep(min(0.001, due - now))
        sent.append(time.perf_counter())
        c.publish(topic, payload, qos=1)
    return sent


def baseline(port: int, rate: int, seconds: float) -> dict:
    """The broker alone: publish -> subscriber, same rate and QoS."""
    got: dict[int, float] = {}
    sub = connect(port, f"bl-sub-{rate}")
    sub.on_message = lambda _c, _u, m: got.__setitem__(int(m.payload), time.perf_counter())
    sub.subscribe("bench/echo", qos=1)
    time.sleep(0.3)
    pub = connect(port, f"bl-pub-{rate}")
    n = int(rate * seconds)
    sent = paced_publish(pub, [("bench/echo", str(i).encode()) for i in range(n)], rate)
    end = time.monotonic() + 30
    while len(got) < n and time.monotonic() < end:
        time.sleep(0.05)
    lat = [(got[i] - sent[i]) * 1000 for i in range(n) if i in got]
    for c in (sub, pub):
        c.loop_stop()
        c.disconnect()
    return {"p50_ms": round(pctl(lat, 0.5), 2), "p99_ms": round(pctl(lat, 0.99), 2), "received": len(lat), "sent": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rates", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--ceiling", type=int, default=50_000, help="reports for the throughput ceiling")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rw-bench-"))
    port = free_port()
    (work / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\nmax_queued_messages 0\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(work / "m.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    rw = None
    try:
        wait_port(port)
        db = work / "rw.db"
        (work / "corridors.geojson").write_text(dumps_geojson([LINE]))
        cfg = {"corridors": {"file": str(work / "corridors.geojson")},
               "store": {"url": f"sqlite:///{db}", "flush_s": 0.05, "journal_dir": str(work / "journal")},
               "mqtt": {"broker": {"host": "127.0.0.1", "port": port, "client_id": "rw-bench"},
                        "input": {"enabled": True, "topics": ["routewatch/v1/pos/+"]}, "output": {"enabled": True}}}
        (work / "rw.yaml").write_text(json.dumps(cfg))
        rw = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(work / "rw.yaml")],
                              stdout=(work / "rw.log").open("wb"), stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        time.sleep(3)
        arrived: dict[str, float] = {}
        sub = connect(port, "bench-alerts")

        def on_alert(_c: object, _u: object, m: mqtt.MQTTMessage) -> None:
            d = json.loads(m.payload)
            if d["change"] == "opened":
                arrived.setdefault(d["id"], time.perf_counter())

        sub.on_message = on_alert
        sub.subscribe("routewatch/v1/alerts/#", qos=1)
        pub = connect(port, "bench-pub")
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        for n, rate in enumerate(a.rates):
            msgs, trigger = reports(rate, a.seconds, t0 + timedelta(minutes=10 * n), f"r{n}")
            sent = paced_publish(pub, msgs, rate)
            end = time.monotonic() + 60
            while not set(trigger) <= set(arrived) and time.monotonic() < end:
                time.sleep(0.05)
            lat = [(arrived[aid] - sent[idx]) * 1000 for aid, idx in trigger.items() if aid in arrived]
            base = baseline(port, rate, min(a.seconds, 5))
            p99 = pctl(lat, 0.99)
            print(json.dumps({
                "bench": "mqtt_alert_latency", "rate_reports_per_s": rate, "reports": len(msgs),
                "alerts_expected": len(trigger), "alerts_received": len(lat),
                "p50_ms": round(pctl(lat, 0.5), 2), "p99_ms": round(p99, 2),
                "broker_only_p50_ms": base["p50_ms"], "broker_only_p99_ms": base["p99_ms"],
                "ratio_p99_vs_broker_only": round(p99 / base["p99_ms"], 1) if base["p99_ms"] else None,
                "target_p99_ms": 50 if rate == 1000 else None,
            }), flush=True)
        # Throughput ceiling: publish as fast as possible, time until every report is stored.
        msgs, _ = reports(a.ceiling // 10, 10, t0 + timedelta(minutes=60), "cap")
        with sqlite3.connect(db) as conn:
            before = conn.execute("select count(*) from positions").fetchone()[0]
        start = time.perf_counter()
        for topic, payload in msgs:
            pub.publish(topic, payload, qos=1)
        published = time.perf_counter() - start
        stored = before
        while stored < before + len(msgs) and time.perf_counter() - start < 300:
            time.sleep(0.2)
            with sqlite3.connect(db) as conn:
                stored = conn.execute("select count(*) from positions").fetchone()[0]
        took = time.perf_counter() - start
        print(json.dumps({"bench": "mqtt_throughput", "reports": len(msgs), "stored": stored - before,
                          "publish_s": round(published, 2), "all_stored_s": round(took, 2),
                          "reports_per_s": round((stored - before) / took),
                          "publisher_reports_per_s": round(len(msgs) / published)}), flush=True)
    finally:
        if rw is not None:
            rw.send_signal(signal.SIGINT)
            try:
                rw.wait(timeout=30)
            except subprocess.TimeoutExpired:
                rw.kill()
        broker.terminate()
        broker.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
