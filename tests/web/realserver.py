"""A real uvicorn serving the web API in a child process (as `routewatch run` serves it), for floods and raw bytes.

Run as `python -m tests.web.realserver DB_URL PORT SETTINGS_JSON`; tests use `serve(...)`, which also reads
the child's memory (/proc/PID/status: VmRSS now, VmHWM the peak).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.kits.server import wait_http

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
    """The API on 127.0.0.1 over a migrated database with users; `settings` are WebConfig fields (and
    `login_limits`: LoginLimits fields)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.web.realserver", db_url, str(port), json.dumps(settings)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", proc)
        yield Served(base, port, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _main(db_url: str, port: int, overrides: dict[str, Any]) -> None:
    from routewatch.app.services import web_server
    from routewatch.config.web import WebConfig
    from routewatch.store import Store
    from routewatch.web import create_app
    from routewatch.web.limits import LoginLimits

    limits = LoginLimits(**overrides.pop("login_limits", {}))
    settings = WebConfig(**overrides, login_max_failures_per_user=limits.per_user,
                         login_max_failures_per_address=limits.per_address, login_window_s=limits.window_s,
                         login_lockout_s=limits.lockout_s, login_max_lockout_s=limits.max_lockout_s,
                         login_limiter_entries=limits.max_entries)
    store = Store(db_url)
    server = web_server(create_app(store, settings), "127.0.0.1", port)
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
    loop.run_until_complete(server.serve())
    store.close()


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))
