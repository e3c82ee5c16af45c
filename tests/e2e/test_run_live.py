"""`routewatch run` as a user runs it: a process with a live UDP source, stopped with SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routewatch.ingest.mavlink import TlogWriter
from routewatch.store import Store
from tests.conftest import free_port, wait_udp_bound
from tests.kits.engine import FRAME

AREA = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
    "id": "home-box", "kind": "operating_area"}, "geometry": {"type": "Polygon", "coordinates": [[
        list(FRAME.lonlat(-60, -60)), list(FRAME.lonlat(60, -60)), list(FRAME.lonlat(60, 60)),
        list(FRAME.lonlat(-60, 60)), list(FRAME.lonlat(-60, -60))]]}}]}


def flight(t0: datetime) -> TlogWriter:
    """Two vehicles at 5 Hz for 8 s: sysid 1 flies east out of the box at 20 m/s, sysid 2 hovers."""
    w = TlogWriter(mavlink2=True)
    for i in range(41):
        t = t0 + timedelta(seconds=i * 0.2)
        for sysid, x in ((1, 20.0 * i * 0.2), (2, 0.0)):
            lon, lat = FRAME.lonlat(x, 0.0)
            if i % 5 == 0:
                w.heartbeat(t, sysid)
                w.gps_raw_int(t, sysid, 3, lat, lon, 100.0)
            w.global_position_int(t, sysid, lat, lon, 100.0, 30.0, 0.0, 20.0 if sysid == 1 else 0.0, 0.0, 90.0)
    return w


def test_run_live_udp_until_sigint(tmp_path: Path):
    port = free_port(socket.SOCK_DGRAM)
    db = tmp_path / "live.db"
    corridors = tmp_path / "area.geojson"
    corridors.write_text(json.dumps(AREA))
    cfg = tmp_path / "routewatch.yaml"
    cfg.write_text(
        "sources:\n"
        f"  - name: field\n    url: udpin:127.0.0.1:{port}\n"
        f"corridors:\n  file: {corridors}\n"
        f"store:\n  url: sqlite:///{db}\n  flush_s: 0.2\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(cfg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        w = flight(datetime.now(UTC))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            wait_udp_bound(port, proc)
            start = time.monotonic()
            t_first = w.packets()[0][0]
            for t, data in w.packets():  # paced like the radio link it stands for
                delay = (t - t_first).total_seconds() - (time.monotonic() - start)
                if delay > 0:
                    time.sleep(delay)
                s.sendto(data, ("127.0.0.1", port))
        deadline = time.monotonic() + 30
        alerts = []
        while time.monotonic() < deadline and not alerts:
            time.sleep(0.3)
            if db.exists():
                with Store(f"sqlite:///{db}") as store:
                    alerts = store.alerts.find()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    with Store(f"sqlite:///{db}") as store:
        alerts = store.alerts.find()
        positions = {s: len(store.positions.of_subject(s)) for s in ("field/1", "field/2")}
    assert [(a.kind.value, a.subject_id, a.corridor_id) for a in alerts] == [("breach", "field/1", "home-box")], out
    assert positions == {"field/1": 41, "field/2": 41}, out
    assert "routewatch summary" in out and "OPEN" in out and "breach" in out
