"""`routewatch run` restarted: planners' web edits survive corridors.file, and an idle pipeline has no lag."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from routewatch.app.demo.scenario import corridors_path, write_tlog
from routewatch.geo.corridors import load_corridors, to_geojson
from routewatch.store import Store
from tests.conftest import free_port
from tests.kits.server import wait_http

PASSWORD = "a long enough password"


def settings(tmp_path: Path, db_url: str, port: int) -> Path:
    cfg = tmp_path / "rw.yaml"
    cfg.write_text(json.dumps({
        "sources": [{"name": "demo", "url": f"file:{write_tlog(tmp_path / 'patrol.tlog')}"}],
        "corridors": {"file": str(corridors_path())},
        "store": {"url": db_url, "flush_s": 0.2, "journal_dir": str(tmp_path / "journal"), "recover_s": 0},
        "web": {"enabled": True, "port": port, "secret_key": "test-secret-key-please-change"},
    }))
    return cfg


@contextmanager
def running(cfg: Path, base: str, log: list[str]) -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_http(f"{base}/health", proc)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        log.append(out)
    assert proc.returncode == 0, out


@contextmanager
def login(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.post("/api/login", json={"username": "plan", "password": PASSWORD}).is_success
        yield c


def test_a_restart_keeps_what_planners_saved(db_url: str, tmp_path: Path) -> None:
    add = subprocess.run([sys.executable, "-m", "routewatch", "users", "add", "plan", "--role", "planner",
                          "--db", db_url, "--password-stdin"], input=PASSWORD + "\n", text=True,
                         capture_output=True, timeout=60)
    assert add.returncode == 0, add.stderr
    port = free_port()
    base, cfg, logs = f"http://127.0.0.1:{port}", settings(tmp_path, db_url, port), []
    first, *_ = load_corridors(corridors_path())
    with running(cfg, base, logs), login(base) as c:
        edited = to_geojson([first])["features"][0]
        edited["properties"]["name"] = "renamed by a planner"
        assert c.put(f"/api/corridors/{first.id}", json=edited).is_success
        drawn = to_geojson([first])["features"][0]
        drawn = {**drawn, "id": "drawn-in-the-editor",
                 "properties": {**drawn["properties"], "id": "drawn-in-the-editor", "name": "new"}}
        assert c.post("/api/corridors", json=drawn).status_code == 201
    with running(cfg, base, logs), login(base) as c:
        now = {f["properties"]["id"]: f["properties"] for f in c.get("/api/corridors").json()["features"]}
    assert now[first.id]["name"] == "renamed by a planner" and now[first.id]["version"] == 2
    assert now["drawn-in-the-editor"]["name"] == "new"
    with Store(db_url) as store:
        assert [v.author for v in store.corridors.history(first.id)] == ["run", "plan"]  # no version by "run" since
    assert "imported first" in logs[0] and re.search(r"corridors.file .* unchanged since its import", logs[1])


def test_an_idle_pipeline_reports_no_lag(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(settings(tmp_path, f"sqlite:///{tmp_path / 'rw.db'}", port), base, []):
        deadline = time.monotonic() + 30
        while True:  # the recorded patrol is read at once (its fixes are days old), then nothing comes
            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            taken = float(re.search(r"^routewatch_messages_in_total (\S+)$", metrics, re.M)[1])  # type: ignore[index]
            lag = float(re.search(r"^routewatch_pipeline_lag_seconds (\S+)$", metrics, re.M)[1])  # type: ignore[index]
            if taken > 0 and lag == 0.0:
                break
            assert time.monotonic() < deadline, f"lag {lag} s after {taken} fixes, with nothing left to process"
            time.sleep(0.3)
        time.sleep(2)
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert re.search(r"^routewatch_pipeline_lag_seconds 0.0$", metrics, re.M), metrics
