"""Test helper: a private PostgreSQL cluster on a free port, which a test may stop and start at will."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import free_port, skip_or_fail

BIN = Path("/usr/lib/postgresql/15/bin")

class Cluster:
    """initdb'd as the `postgres` user in a temporary directory; trust auth on 127.0.0.1."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rw-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres([str(BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"])

    def _as_postgres(self, cmd: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it answers."""
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._as_postgres([str(BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-o", opts,
                           "-l", str(self.dir / "log"), "-w", "start"])

    def stop(self) -> None:
        """Stop it now (fast shutdown: clients are disconnected)."""
        self._as_postgres([str(BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])

    def remove(self) -> None:
        """Stop if running and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A running private cluster, removed afterwards; skips (fails on CI) where one cannot be made."""
    if not (BIN / "initdb").exists() or shutil.which("runuser") is None:
        skip_or_fail(f"cannot create a PostgreSQL cluster: {BIN / 'initdb'} or runuser missing")
    try:
        cluster = Cluster()
        cluster.start()
    except (subprocess.CalledProcessError, LookupError, OSError) as exc:
        skip_or_fail(f"cannot create a PostgreSQL cluster: {exc}")
        raise
    try:
        yield cluster
    finally:
        cluster.remove()
