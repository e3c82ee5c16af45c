"""Waiting for a server a test started in a child process (`routewatch run`, a uvicorn)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx


def wait_http(url: str, proc: subprocess.Popen[Any], log: Path | None = None, timeout_s: float = 60.0) -> None:
    """Wait until GET `url` answers 200, however slow the start; fail at once if `proc` exits first.

    The failure shows the end of `log` (the child's output file) or, once it has exited, its piped output.
    """
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            piped = proc.stdout.read() if proc.stdout is not None and log is None else ""
            raise AssertionError(f"the server exited ({proc.returncode}):\n{_tail(log) or piped}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    # A live child's pipe is not read here: reading it would wait for the child to end.
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s:\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None and log.is_file() else ""
