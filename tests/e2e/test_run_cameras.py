"""`routewatch run` with live cameras: JPEG frames over a real MQTT broker, and a real HTTP MJPEG stream.

Both watch the synthetic gate scene of test_vision_fixed (a target walking north across a line at
x = 50 m); the run must raise the line-crossing alert from the live frames, and say what it did
with every frame.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from shapely.geometry import LineString

from routewatch.geo.corridors import dumps_geojson
from routewatch.model import Corridor, CorridorKind
from routewatch.store import Store
from tests.conftest import free_port
from tests.kits.mjpeg import MjpegServer, video_jpegs
from tests.kits.mqtt_broker import private_broker

from .mqttkit import client, wait_for, wait_online
from .test_vision_fixed import FRAME, GCP_POINTS, render, to_image

MAX_FRAME_BYTES = 100_000
WAIT_S = 120.0  # only so a broken build fails instead of hanging


def scene_jpegs(tmp_path: Path, fps: float) -> list[bytes]:
    """The gate scene (25 s) as JPEG frames, rendered by test_vision_fixed's renderer."""
    video = tmp_path / "scene.avi"
    render(video, seconds=25.0, fps=fps)
    out = video_jpegs(video)
    assert len(out) == int(25 * fps)
    return out


def camera(url: str, fps: float, **extra: object) -> dict[str, object]:
    gcps = []
    for x, y in GCP_POINTS:
        u, v = to_image(x, y)
        lon, lat = FRAME.lonlat(x, y)
        gcps.append([u, v, lon, lat])
    return {"name": "gate", "url": url, "fps": fps, "gcps": gcps, "max_error_m": 1.0, "queue_frames": 300, **extra}


def write_settings(tmp_path: Path, cam: dict[str, object], **sections: object) -> Path:
    line = Corridor("gate-line", FRAME.to_lonlat(LineString([(0, 30), (100, 30)])), kind=CorridorKind.LINE)
    corridors = tmp_path / "c.geojson"
    corridors.write_text(dumps_geojson([line]))
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({
        "cameras": [cam], "corridors": {"file": str(corridors)},
        "store": {"url": f"sqlite:///{tmp_path / 'rw.db'}", "flush_s": 0.2, "journal_dir": str(tmp_path / "j")},
        **sections,
    }))
    return cfg


def stop(proc: subprocess.Popen[bytes], log: Path) -> str:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=WAIT_S)
    out = log.read_text(errors="replace")
    assert proc.returncode == 0, out
    return out


def alerts(tmp_path: Path) -> list:
    db = tmp_path / "rw.db"
    if not db.exists():
        return []
    with Store(f"sqlite:///{db}") as store:
        return store.alerts.find()


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """`python -m routewatch run -c CONFIG`, with a terminal wide enough for the summary rows."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "250"}
    return subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(config)], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def camera_row(out: str) -> dict[str, int]:
    """The summary's 'live camera frames' row as numbers."""
    m = re.search(r"live camera frames\W+([\d,]+) received, ([\d,]+) skipped \(fps\), ([\d,]+) processed, "
                  r"([\d,]+) dropped \(behind\), ([\d,]+) corrupt; ([\d,]+) reopens, ([\d,]+) stale", out)
    assert m, out
    keys = ("received", "skipped", "processed", "dropped", "corrupt", "reopens", "stale")
    return dict(zip(keys, (int(g.replace(",", "")) for g in m.groups()), strict=True))


def camera_metrics(port: int) -> dict[str, float]:
    """routewatch_camera_frames_total of camera gate by outcome, from /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    pat = r'^routewatch_camera_frames_total\{camera="gate",outcome="(\w+)"\} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pat, text, re.M)}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_mqtt_frames_raise_the_crossing_alert_and_bad_frames_are_dead_letters(tmp_path: Path):
    fps = 5.0
    frames = scene_jpegs(tmp_path, fps)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    ts = [(t0 + timedelta(seconds=i / fps)).isoformat().replace("+00:00", "Z") for i in range(len(frames))]
    good = json.dumps({"time": ts[0], "jpeg": b64(frames[0])})
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    bad = {  # what each must be refused for
        "empty": (b"", "empty:"),
        "not base64": (json.dumps({"time": ts[0], "jpeg": "%%%not base64%%%"}).encode(), "bad base64:"),
        "not JPEG": (json.dumps({"time": ts[0], "jpeg": b64(b"\x89PNG\r\n\x1a\n" + bytes(64))}).encode(),
                     "not a JPEG:"),
        "too big": (json.dumps({"time": ts[0], "jpeg": "A" * MAX_FRAME_BYTES}).encode(), "too large:"),
        "no time": (json.dumps({"jpeg": b64(frames[0])}).encode(), "schema frame.v1: $: 'time' is a required"),
        "future time": (json.dumps({"time": future, "jpeg": b64(frames[0])}).encode(), "time in the future:"),
        "unknown camera": (good.encode(), "unknown camera: 'yard'"),
    }
    (tmp_path / "broker").mkdir()
    port = free_port()
    with private_broker(tmp_path / "broker") as broker:
        cfg = write_settings(tmp_path, camera("mqtt", fps), mqtt={
            "broker": {"port": broker.port, "client_id": "rw-cams", "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
            "input": {"enabled": True, "max_frame_bytes": MAX_FRAME_BYTES}}, web={"enabled": True, "port": port})
        log = tmp_path / "run.log"
        proc = start(cfg, log)
        pub = None
        try:
            wait_online(broker.port, "rw-cams")
            pub = client(broker.port, "camera-publisher", clean=True)
            infos = [pub.publish("routewatch/v1/frames/gate", json.dumps({"time": t, "jpeg": b64(f), "seq": i}),
                                 qos=1) for i, (t, f) in enumerate(zip(ts, frames, strict=True))]
            for name, (payload, _) in bad.items():
                topic = "routewatch/v1/frames/" + ("yard" if name == "unknown camera" else "gate")
                infos.append(pub.publish(topic, payload, qos=1))
            for info in infos:
                info.wait_for_publish(timeout=WAIT_S)

            def dead() -> list:
                with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
                    return store.dead_letters.recent()

            wait_for(lambda: len(alerts(tmp_path)) >= 1 and len(dead()) >= len(bad), WAIT_S,
                     lambda: f"the alert and {len(bad)} dead letters:\n{log.read_text(errors='replace')}")
            wait_for(lambda: camera_metrics(port).get("processed") == len(frames), WAIT_S,
                     lambda: f"every frame processed, in /metrics: {camera_metrics(port)}")
            out = stop(proc, log)
            letters = dead()
        finally:
            if pub is not None:
                pub.loop_stop()
                pub.disconnect()
            if proc.poll() is None:
                proc.kill()
    got = alerts(tmp_path)
    assert [(a.kind.value, a.corridor_id) for a in got] == [("cross", "gate-line")], out
    assert got[0].subject_id.startswith("gate/") and got[0].source == "gate"
    # The target's near edge crosses y = 30 m at 13 s of scene time; frame times come from the messages.
    assert abs((got[0].opened_at - t0).total_seconds() - 13.0) < 1.0, got[0].opened_at
    reasons = sorted(d.reason for d in letters)
    for name, (_, reason) in bad.items():
        assert sum(r.startswith(reason) for r in reasons) == 1, (name, reasons)
    assert len(letters) == len(bad)
    row = camera_row(out)
    assert row["received"] == row["processed"] == len(frames) and row["dropped"] == row["corrupt"] == 0, row


def test_http_mjpeg_stream_camera_reopens_after_a_drop_and_raises_the_crossing_alert(tmp_path: Path):
    fps = 10.0
    frames = scene_jpegs(tmp_path, fps)
    # The camera drops after 2 s (before the target appears) and is away for 1.5 s; served at 2x speed.
    sessions = [frames[:20], frames[20:]]
    port = free_port()
    with MjpegServer(sessions, fps=2 * fps, outage_s=1.5) as server:
        cfg = write_settings(tmp_path, camera(server.url, 120.0, stale_s=0.7, reopen_s=0.2, reopen_max_s=0.4),
                             web={"enabled": True, "port": port})
        log = tmp_path / "run.log"
        begin = datetime.now(UTC)
        proc = start(cfg, log)
        try:
            wait_for(lambda: server.sent == len(frames) and len(alerts(tmp_path)) >= 1, WAIT_S,
                     lambda: f"all frames served and the alert:\n{log.read_text(errors='replace')}")

            def settled() -> bool:
                m = camera_metrics(port)
                return m.get("received") == len(frames) and m["queued"] == m["processed"] + m["dropped"]

            wait_for(settled, WAIT_S, lambda: f"every frame accounted for in /metrics: {camera_metrics(port)}")
            metrics = camera_metrics(port)
            out = stop(proc, log)
        finally:
            if proc.poll() is None:
                proc.kill()
    got = alerts(tmp_path)
    assert [(a.kind.value, a.corridor_id) for a in got] == [("cross", "gate-line")], out
    assert got[0].subject_id.startswith("gate/")
    # Capture time: the crossing frame (13 s into the scene, 6.5 s into the stream) was read after the start.
    assert begin < got[0].opened_at < datetime.now(UTC)
    row = camera_row(out)
    assert row["received"] == len(frames) == row["skipped"] + row["processed"] + row["dropped"], row
    assert row["processed"] >= 0.9 * len(frames) and row["corrupt"] == 0, row  # no fps limit below the stream's
    assert row["reopens"] >= 1 and row["stale"] >= 1, row  # the mid-stream drop (and the end of the stream)
    assert metrics["received"] == len(frames) and metrics["processed"] <= row["processed"]
