"""Shared fixtures. `db_url`: a fresh SQLite file, and a throwaway PostgreSQL database; `store`: a migrated
Store over it.

PostgreSQL is looked for at 127.0.0.1:5432 (trust auth, maintenance database `test`; or the
admin URL in ROUTEWATCH_TEST_POSTGRES_URL). Unreachable: the tests skip, except on CI
(CI=true or ROUTEWATCH_REQUIRE_SERVICES=1), where they fail.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from routewatch.store import Store

PG_HOST, PG_PORT, PG_ADMIN_DB = "127.0.0.1", 5432, "test"

# No wall-clock limits in tests (the machines are shared): Hypothesis's per-example deadline and its
# too_slow health check failed runs when one first draw paid for pyproj's start-up on a busy machine.
settings.register_profile("routewatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("routewatch")


def services_required() -> bool:
    """Whether a missing service must fail the run (CI) instead of skipping."""
    return (
        os.environ.get("CI", "").lower() == "true" or os.environ.get("ROUTEWATCH_REQUIRE_SERVICES") == "1"
    )


def skip_or_fail(reason: str) -> None:
    """Skip off CI; fail on CI, where every service must be up."""
    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _admin_urls() -> list[URL]:
    override = os.environ.get("ROUTEWATCH_TEST_POSTGRES_URL")
    if override:
        return [make_url(override)]
    users = ["postgres"]
    with contextlib.suppress(OSError, KeyError):  # no name for this uid
        users.append(getpass.getuser())
    users.append("root")
    return [
        URL.create("postgresql+psycopg", username=user, host=PG_HOST, port=PG_PORT, database=PG_ADMIN_DB)
        for user in dict.fromkeys(users)
    ]


def _admin_engine(url: URL) -> Engine:
    return create_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 3}
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a new, uniquely named PostgreSQL database, dropped at the end of the session."""
    name = f"routewatch_test_{uuid.uuid4().hex[:12]}"
    errors: list[str] = []
    candidates = _admin_urls()
    for admin_url in candidates:
        admin = _admin_engine(admin_url)
        try:
            with admin.connect() as conn:
                quoted = conn.dialect.identifier_preparer.quote(name)
                conn.execute(text(f"CREATE DATABASE {quoted}"))
            break
        except DBAPIError as exc:
            admin.dispose()
            errors.append(f"as {admin_url.username}: {str(exc.orig).strip().splitlines()[0]}")
    else:
        where = f"{candidates[0].host}:{candidates[0].port}"
        skip_or_fail(f"PostgreSQL not reachable at {where}: {'; '.join(errors)}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = _admin_engine(make_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of an empty database (no tables), once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'routewatch.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated `Store` over `db_url` (so once per backend), closed after the test."""
    with Store(db_url) as s:
        s.upgrade()
        yield s


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (real logs, fences); skips when it is absent (fails on CI)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        skip_or_fail(f"real data not found at {path}")
    return path


def detect_model(shared_data: Path) -> str:
    """The shared yolo11n int8 OpenVINO model's path; without the detect extra or the file: skip (fail on CI)."""
    import importlib.util

    if importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("openvino") is None:
        skip_or_fail("the detect extra (ultralytics, openvino) is not installed")
    path = shared_data / "models" / "yolo11n_int8_openvino_model"
    if not path.is_dir():
        skip_or_fail(f"no model at {path}")
    return str(path)


@pytest.fixture(scope="session")
def openvino_model(shared_data: Path) -> str:
    """See `detect_model`. Tests that use it are marked `model`."""
    return detect_model(shared_data)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark browser and model tests, so a lane can leave them out (`./scripts/test --fast`)."""
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        if "openvino_model" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


def wait_udp_bound(port: int, proc: object = None, timeout_s: float = 60.0) -> None:
    """Wait until a process has bound UDP `port` (our own bind is then refused), however slow its start.

    With `proc` (a Popen), fail as soon as it has exited.
    """
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:  # type: ignore[attr-defined]
            break
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.1)
    raise AssertionError(f"routewatch did not bind udp port {port}")


@pytest.fixture
def postgres_db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty PostgreSQL database (the postgres half of db_url, for PostgreSQL-only tests)."""
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


def free_port(kind: int = 1) -> int:
    """A port on 127.0.0.1 that nothing uses right now (kind: socket.SOCK_STREAM=1 or SOCK_DGRAM=2)."""
    import socket

    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def small_tmpfs(mnt: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` (e.g. "200k") at `mnt` for disk-full tests; skipped where mounting is not allowed."""
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                         text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
