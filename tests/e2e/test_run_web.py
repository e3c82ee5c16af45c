"""`routewatch run` serves the API in the same process: a field user logs in and sees alerts arrive live."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from routewatch.app.demo.scenario import corridors_path, write_tlog
from tests.conftest import free_port
from tests.kits.server import wait_http


def test_run_serves_the_api_and_streams_alerts(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    add = subprocess.run([sys.executable, "-m", "routewatch", "users", "add", "fieldy", "--role", "field",
                          "--db", db, "--password-stdin"], input="a long enough password\n", text=True,
                         capture_output=True, timeout=60)
    assert add.returncode == 0, add.stderr
    tlog = write_tlog(tmp_path / "patrol.tlog")
    port = free_port()
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({
        "sources": [{"name": "demo", "url": f"file:{tlog}", "realtime": True, "speed": 40}],
        "corridors": {"file": str(corridors_path())},
        "store": {"url": db, "flush_s": 0.2, "journal_dir": str(tmp_path / "journal")},
        "web": {"enabled": True, "port": port, "secret_key": "test-secret-key-please-change"},
    }))
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/api/alerts").status_code == 401
            assert c.post("/api/login", json={"username": "fieldy", "password": "wrong password!"}).status_code == 401
            assert c.post("/api/login", json={"username": "fieldy", "password": "a long enough password"}).is_success
            got = []
            with c.stream("GET", "/api/live", timeout=60) as live:
                for line in live.iter_lines():
                    if line.startswith("data:") and '"kind"' in line:
                        got.append(json.loads(line[5:]))
                        if len(got) >= 3:
                            break
            assert got, "no alert arrived on the live stream"
            listed = c.get("/api/alerts").json()
            ids = {a["id"] for a in (listed["items"] if isinstance(listed, dict) else listed)}
            assert {g.get("id") or g["alert"]["id"] for g in got} <= ids
            assert c.post("/api/corridors", json={"type": "Feature"}).status_code == 403  # field cannot edit
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
