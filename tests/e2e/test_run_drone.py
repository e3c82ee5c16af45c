"""Drone cameras in `routewatch run`, on the rendered drone flight of test_vision_drone (known ground truth).

- A recorded drone video (its .tlog beside it) in `run` gives the alerts `analyze` gives on the same inputs.
- Live: the flight's frames published as MQTT frames (frame.v1) while its telemetry goes over a live MAVLink
  UDP link, both paced in real time and timed by this machine's clock; the frames are placed from the
  link's telemetry at their capture time, the expected alerts land where the targets were, and the frames
  sent before any telemetry (and inside the telemetry gap) are counted as without a pose.
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from routewatch.cli.main import main
from routewatch.store import Store
from tests.conftest import free_port, wait_udp_bound
from tests.kits import dronescene as scene
from tests.kits.dronelink import tlog_packets
from tests.kits.mjpeg import video_jpegs
from tests.kits.mqtt_broker import private_broker

from .mqttkit import client, wait_for, wait_online
from .test_run_cameras import start, stop
from .test_vision_drone import MAX_GAP_S, MOTION, corridors_file

WAIT_S = 180.0  # only so a broken build fails instead of hanging
TELEMETRY_FROM_S = 3.0  # the live link is silent for the flight's first 3 s: those frames have no pose
DRONE = {"hfov_deg": scene.HFOV_DEG, "ground_alt_m": "home", "max_pose_gap_s": MAX_GAP_S}


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered video with its .tlog beside it (same stem)."""
    d = tmp_path_factory.mktemp("flight")
    video = d / "flight.avi"
    scene.render(video)
    scene.telemetry(d / "flight.tlog")
    return video


def write_config(tmp_path: Path, cam: dict[str, object], **sections: object) -> Path:
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({
        "cameras": [{"name": "uav", "kind": "drone", "fps": 5, "motion": MOTION, **cam}],
        "corridors": {"file": str(corridors_file(tmp_path / "c.geojson"))},
        "store": {"url": f"sqlite:///{tmp_path / 'rw.db'}", "flush_s": 0.2, "journal_dir": str(tmp_path / "j")},
        **sections,
    }))
    return cfg


def stored(db: Path) -> tuple[list, int]:
    """The alerts and how many positions are stored."""
    with Store(f"sqlite:///{db}") as store:
        return store.alerts.find(), len(store.positions.since(datetime(2000, 1, 1, tzinfo=UTC)))


def polled(db: Path) -> tuple[list, int]:
    """`stored`, or nothing while the run is still creating the database."""
    try:
        return stored(db) if db.exists() else ([], 0)
    except Exception:  # its schema is not there yet
        return [], 0


def alert_keys(alerts: list) -> list[tuple[object, ...]]:
    return sorted((a.kind.value, a.corridor_id, a.subject_id, a.subject_class, a.opened_at, round(a.lon, 7),
                   round(a.lat, 7)) for a in alerts)


def test_a_recorded_drone_video_in_run_gives_the_alerts_analyze_gives(flight: Path, tmp_path: Path):
    cam = {"start_time": scene.T0.isoformat(), "drone": DRONE}
    camera_file = tmp_path / "uav.json"
    camera_file.write_text(json.dumps({"name": "uav", "kind": "drone", "fps": 5, "motion": MOTION, **cam}))
    analyzed = tmp_path / "analyze.db"
    res = CliRunner().invoke(main, ["analyze", str(flight), "--camera", str(camera_file), "--corridors",
                                    str(corridors_file(tmp_path / "c.geojson")), "--db", f"sqlite:///{analyzed}",
                                    "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ingest"]["no_pose"] == 13  # the telemetry gap (see test_vision_drone)
    expected, positions = stored(analyzed)
    assert len(expected) == 2 and positions > 80

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log = run_dir / "run.log"
    proc = start(write_config(run_dir, {"url": str(flight), **cam}), log)
    try:
        # A file camera does not end `run`: wait until every fix analyze stored is stored, then stop it.
        wait_for(lambda: polled(run_dir / "rw.db")[1] >= positions, WAIT_S,
                 lambda: f"{positions} positions stored:\n{log.read_text(errors='replace')}")
        out = stop(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    got, got_positions = stored(run_dir / "rw.db")
    assert got_positions == positions, out
    assert alert_keys(got) == alert_keys(expected), out
    assert "camera uav:" not in out, out  # not refused, nothing failed
    with Store(f"sqlite:///{run_dir / 'rw.db'}") as store:  # evidence, as analyze keeps it
        assert store.snapshots.alert_ids_with([a.id for a in got]) == {a.id for a in got}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def camera_metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    pat = r'^routewatch_camera_frames_total\{camera="uav",outcome="(\w+)"\} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pat, text, re.M)}


def test_live_drone_video_is_placed_from_live_telemetry(flight: Path, tmp_path: Path):
    jpegs = video_jpegs(flight)
    assert len(jpegs) == int(scene.SECONDS * scene.FPS)
    packets = [(t, p) for t, p in tlog_packets(flight.with_suffix(".tlog"))
               if (t - scene.T0).total_seconds() >= TELEMETRY_FROM_S]
    udp, web = free_port(socket.SOCK_DGRAM), free_port()
    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        cfg = write_config(
            tmp_path, {"url": "mqtt", "queue_frames": 300, "drone": {**DRONE, "pose_source": "uav-link"}},
            sources=[{"name": "uav-link", "url": f"udpin:127.0.0.1:{udp}"}],
            mqtt={"broker": {"port": broker.port, "client_id": "rw-drone", "reconnect_min_s": 0.1,
                             "reconnect_max_s": 1.0}, "input": {"enabled": True, "topics": []}},
            web={"enabled": True, "port": web})
        log = tmp_path / "run.log"
        proc = start(cfg, log)
        pub = None
        try:
            wait_online(broker.port, "rw-drone")
            wait_udp_bound(udp)
            pub = client(broker.port, "drone-camera", clean=True)
            # The flight replayed in real time from `base`: frame i is captured (and stamped) at base + i/FPS,
            # a telemetry record of scene time t is sent at base + t; both on this machine's clock.
            schedule = sorted([(i / scene.FPS, 1, i) for i in range(len(jpegs))]
                              + [((t - scene.T0).total_seconds(), 0, j) for j, (t, _) in enumerate(packets)])
            base, base_mono = datetime.now(UTC) + timedelta(seconds=0.5), time.monotonic() + 0.5
            infos = []
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for s, kind, i in schedule:
                    delay = base_mono + s - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    if kind == 0:
                        sock.sendto(packets[i][1], ("127.0.0.1", udp))
                        continue
                    stamp = (base + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
                    infos.append(pub.publish("routewatch/v1/frames/uav",
                                             json.dumps({"time": stamp, "jpeg": b64(jpegs[i]), "seq": i}), qos=1))
            for info in infos:
                info.wait_for_publish(timeout=WAIT_S)
            processed = int(scene.SECONDS * 5)  # the camera's 5 fps of the 10 fps flight
            wait_for(lambda: camera_metrics(web).get("processed") == processed, WAIT_S,
                     lambda: f"{processed} frames processed: {camera_metrics(web)}\n{log.read_text(errors='replace')}")
            wait_for(lambda: len(polled(tmp_path / "rw.db")[0]) >= 2, WAIT_S,
                     lambda: f"the two alerts:\n{log.read_text(errors='replace')}")
            metrics = camera_metrics(web)
            out = stop(proc, log)
        finally:
            if pub is not None:
                pub.loop_stop()
                pub.disconnect()
            if proc.poll() is None:
                proc.kill()

    m = re.search(r"live camera frames\W+([\d,]+) received, .*?([\d,]+) processed, ([\d,]+) dropped .*?"
                  r"([\d,]+) without drone pose", out, re.S)
    assert m, out
    received, done, dropped, no_pose = (int(g.replace(",", "")) for g in m.groups())
    assert received == len(jpegs) and done == processed and dropped == 0, out
    # Processed frames every 0.2 s: before the first telemetry (3.05 s) are 0.0 ... 3.0 s (16), and inside
    # the telemetry gap (15.95, 18.55) s 16.0 ... 18.4 s (13). Telemetry is timed on arrival, so a packet
    # late by 50 ms (a busy machine) can also leave the frame just after 3.05 or 18.55 s without a pose.
    assert 16 + 13 <= no_pose <= 16 + 13 + 2, out
    assert 16 + 13 <= metrics["no_pose"] <= no_pose  # also in /metrics (as of the last flush)

    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        alerts = store.alerts.find()
        fixes = store.positions.since(base - timedelta(seconds=1))
    cam_fixes = [o for o in fixes if o.source == "uav"]
    assert len(cam_fixes) > 80
    # Each fix against the ground point of its target's box at that scene time (as in test_vision_drone).
    errors: dict[str, list[float]] = {t.name: [] for t in scene.TARGETS}
    owners: dict[str, set[str]] = {}
    for o in cam_fixes:
        t = (o.time - base).total_seconds()
        assert t >= TELEMETRY_FROM_S and not 15.95 < t < 18.55, t  # never placed without telemetry around it
        x, y = scene.FRAME.xy(o.lon, o.lat)
        target = min(scene.TARGETS, key=lambda g: math.dist((x, y), g.at(t)))
        errors[target.name].append(math.dist((x, y), scene.expected_point(target, t)))
        owners.setdefault(target.name, set()).add(o.subject_id)
    # Stated tolerance (telemetry timed on arrival, so a little looser than analyze's 1.5 m / 0.6 m).
    for name, errs in errors.items():
        assert len(errs) > 30, (name, len(errs))
        assert max(errs) < 2.0 and statistics.median(errs) < 0.6, (name, statistics.median(errs), max(errs))
    got = sorted((a.kind.value, a.corridor_id, a.subject_id) for a in alerts)
    assert got == sorted([("cross", "north-south-line", *owners["walker"]), ("enter", "zone", *owners["car"])]), out
    cross = next(a for a in alerts if a.kind.value == "cross")
    assert abs((cross.opened_at - base).total_seconds() - 13.3) < 0.6
    cx, cy = scene.FRAME.xy(cross.lon, cross.lat)
    assert abs(cx) < 1.0 and abs(cy - scene.WALKER.at(13.3)[1]) < 2.0
