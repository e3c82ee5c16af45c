"""Browser tests: one `routewatch run` (web enabled, UI mounted, demo tlog replayed live) and headless Chromium.

Skips when Debian's `chromium`, the Python `playwright` package or the built UI (web-ui/dist) is
missing; fails instead on CI (CI=true or ROUTEWATCH_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from routewatch.app.demo.scenario import corridors_path, write_tlog
from tests.conftest import free_port, skip_or_fail
from tests.kits.server import wait_http

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DIST = Path(os.environ.get("ROUTEWATCH_UI_DIST", REPO / "web-ui" / "dist"))
ARTIFACTS = HERE / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PASSWORD = "a long enough password"
# The demo's corridors as the whole set in force: what a test stored first (a recorded run's gate, far from the
# demo's area) is removed at the start, so the demo's live replay runs against its own corridors alone.
DEMO_FILE_WINS = {"file": str(corridors_path()), "file_wins": True}
COMMANDER = "cora"
USERS = {"fieldy": "field", "plato": "planner", COMMANDER: "commander"}


@dataclass(frozen=True)
class Server:
    base: str
    db: str
    log: Path
    radio_port: int  # a live MAVLink udpin source: tests send reports here


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the Python package playwright is not installed (pip install playwright)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def ui_built() -> Path:
    if not (DIST / "index.html").is_file():
        skip_or_fail(f"the web UI is not built ({DIST}); run: cd web-ui && npm ci && npm run build")
    return DIST


@contextlib.contextmanager
def run_server(tmp: Path, ui: Path, *, corridors_file: Path | None = None, config: dict[str, Any] | None = None,
               **web: Any) -> Iterator[Server]:
    """`routewatch run` replaying the demo live, with a live radio link and the web part (`web` adds settings).

    The database is `tmp / "rw.db"` (a test may fill it first); `corridors_file` (corridors.file, the demo's by
    default) seeds it: corridors the test stored first stay beside the file's unless `config` sets
    corridors.file_wins. `config` adds top-level settings (e.g. `recording`).
    """
    db = f"sqlite:///{tmp / 'rw.db'}"
    for name, role in USERS.items():
        add = subprocess.run([sys.executable, "-m", "routewatch", "users", "add", name, "--role", role, "--db", db,
                              "--password-stdin"], input=PASSWORD + "\n", text=True, capture_output=True, timeout=60)
        assert add.returncode == 0, add.stderr
    tlog = write_tlog(tmp / "patrol.tlog")
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        radio = int(s.getsockname()[1])
    cfg = tmp / "rw.yaml"
    cfg.write_text(json.dumps({
        "sources": [{"name": "demo", "url": f"file:{tlog}", "realtime": True, "speed": 20},
                    {"name": "radio", "url": f"udpin:127.0.0.1:{radio}"}],
        "corridors": {"file": str(corridors_file or corridors_path())},
        "store": {"url": db, "flush_s": 0.2, "journal_dir": str(tmp / "journal")},
        "web": {"enabled": True, "port": port, "secret_key": "browser-test-secret-key", **web},
        **(config or {}),
    }))
    log = tmp / "routewatch.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(cfg)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "ROUTEWATCH_UI_DIST": str(ui)})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", proc, log)
        home = httpx.get(base + "/", timeout=5)
        if home.status_code != 200 or 'id="login-form"' not in home.text:
            skip_or_fail(f"/ does not serve the built UI (status {home.status_code})")
        yield Server(base, db, log, radio)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: Path) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("browser"), ui_built) as s:
        yield s


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def sign_in(browser: Any, server: Server, user: str, **context: Any) -> Any:
    """A new page signed in as `user` with the map drawn.

    page.js_errors collects uncaught page errors and Content-Security-Policy violations, page.responses every
    response from the start.
    """
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    responses: list[Any] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # The server's Content-Security-Policy refuses inline scripts and styles: any violation is a bug of ours.
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("response", lambda r: responses.append(r))
    page.responses = responses
    page.goto(server.base + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#app-page:not([hidden])", timeout=10_000)
    page.wait_for_selector("#map canvas", timeout=10_000)
    page.js_errors = errors
    return page


def drone_report(uas_id: str, lat: float, lon: float, heading_deg: float = 90.0) -> bytes:
    """A MAVLink 2 OPEN_DRONE_ID_LOCATION (a Remote ID drone relayed by our patrol drone), timed now."""
    from routewatch.ingest.mavlink import TlogWriter

    return TlogWriter(mavlink2=True).open_drone_id_location(datetime.now(UTC), 7, uas_id, lat, lon, 120.0,
                                                            heading_deg, 2.0)


def aircraft_report(icao: int, lat: float, lon: float, heading_deg: float) -> bytes:
    """A MAVLink 2 ADSB_VEHICLE (an aircraft heard by our patrol drone's ADS-B receiver), timed now."""
    from routewatch.ingest.mavlink import TlogWriter

    return TlogWriter(mavlink2=True).adsb_vehicle(datetime.now(UTC), 7, icao, lat, lon, 1500.0, heading_deg, 45.0,
                                                  "TEST1")


def send_reports(port: int, datagrams: list[bytes], gap_s: float = 0.3) -> None:
    """Send MAVLink datagrams to the live radio source, `gap_s` apart (a link's pace, not a burst)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in datagrams:
            s.sendto(data, ("127.0.0.1", port))
            time.sleep(gap_s)
