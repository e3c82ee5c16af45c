"""A real uvicorn serving the web API in a child process (as `routewatch run` serves it), for floods and raw bytes.

Run as `python -m tests.web.realserver DB_URL PORT SETTINGS_JSON`; tests use `serve(...)`, which also reads
the child's memory (/proc/PID/status: VmRSS now, VmHWM the peak).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Served:
    base: str
    port: int
    pid: int

    def memory_mb(self, field: str = "VmRSS") -> float:
        """The child's resident memory (VmRSS) or its peak so far (VmHWM), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise AssertionError(f"no {field} for pid {self.pid}")


@contextlib.contextmanager
def serve(db_url: str, **settings: Any) -> Iterator[Served]:
    """The API on 127.0.0.1 over a migrated database with users; `settings` are WebSettings fields."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.web.realserver", db_url, str(port), json.dumps(settings)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the server exited: {proc.stdout.read() if proc.stdout else ''}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < end, "the server did not start"
            time.sleep(0.1)
        yield Served(base, port, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _main(db_url: str, port: int, overrides: dict[str, Any]) -> None:
    from routewatch.app.live import web_server
    from routewatch.store import Store
    from routewatch.web import WebSettings, create_app
    from routewatch.web.limits import LoginLimits

    if "login_limits" in overrides:
        overrides["login_limits"] = LoginLimits(**overrides["login_limits"])
    if "trusted_proxies" in overrides:
        overrides["trusted_proxies"] = tuple(overrides["trusted_proxies"])
    settings = dataclasses.replace(WebSettings(), **overrides)
    store = Store(db_url)
    server = web_server(create_app(store, settings), "127.0.0.1", port)
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
    loop.run_until_complete(server.serve())
    store.close()


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))
