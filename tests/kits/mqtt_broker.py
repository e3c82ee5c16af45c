"""Test helper: a private Mosquitto on a free port (persistent, restartable), and the shared one on :1883.

Not a conftest: tests import `private_broker` and `public_broker` from here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import free_port, skip_or_fail

MOSQUITTO = "/usr/sbin/mosquitto"
PUBLIC_HOST, PUBLIC_PORT = "127.0.0.1", 1883
START_TIMEOUT_S = 10.0

SHIPPED_CONF = Path(__file__).resolve().parents[2] / "examples" / "mosquitto.conf"
_OURS = ("listener", "persistence_location", "log_dest", "user")


def shipped_settings() -> str:
    """The settings of the shipped examples/mosquitto.conf, less those a test broker sets itself."""
    lines = SHIPPED_CONF.read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in lines if ln.strip() and not ln.startswith("#") and ln.split()[0] not in _OURS]
    return "".join(f"{ln}\n" for ln in kept)


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class PrivateBroker:
    """A Mosquitto of our own: `persistence true` in its directory, so sessions survive `restart()`."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, *, extra_conf: str = "", listener_conf: str = "") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} {self.host}\n{listener_conf}"
            f"persistence_location {workdir}/\n"
            "user root\n"  # as root it would switch to user mosquitto, who cannot write a tmp dir
            f"log_dest file {self.log}\nlog_type all\n"
            f"{shipped_settings()}"
            f"{extra_conf}",
            encoding="utf-8",
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        if self.running:
            return
        self._proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(self.host, self.port, 0.2):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), so Mosquitto saves sessions and queued messages to its db."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop gracefully and start again on the same port with the saved state."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the broker's log, for failure messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        return ""


@contextlib.contextmanager
def private_broker(workdir: Path, *, extra_conf: str = "", listener_conf: str = "") -> Iterator[PrivateBroker]:
    """A started PrivateBroker in workdir, stopped on exit; skips (fails on CI) without Mosquitto."""
    if not os.access(MOSQUITTO, os.X_OK):
        skip_or_fail(f"Mosquitto not installed at {MOSQUITTO}")
    broker = PrivateBroker(workdir, extra_conf=extra_conf, listener_conf=listener_conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def public_broker() -> tuple[str, int]:
    """(host, port) of the shared Mosquitto at 127.0.0.1:1883; skips off CI, fails on CI, if unreachable."""
    if not port_open(PUBLIC_HOST, PUBLIC_PORT, 2.0):
        skip_or_fail(f"Mosquitto not reachable at {PUBLIC_HOST}:{PUBLIC_PORT}")
    return PUBLIC_HOST, PUBLIC_PORT
