"""What a command loads before it does anything: `--help` none of the heavy libraries, `analyze` no Alembic.

Start-up time itself is measured by bench/bench_startup.py (no wall clock here); these tests hold
the reasons it is short.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from routewatch.app.demo.scenario import corridors_path, write_tlog
from routewatch.cli.main import DEFAULT_DB, main
from routewatch.config.store import StoreConfig

HEAVY = ("sqlalchemy", "alembic", "pydantic", "numpy", "shapely", "pyproj", "pymavlink", "rich", "yaml", "fastapi",
         "argon2", "cv2")
PROBE = """
import json, sys
from routewatch.cli.main import main
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def loaded(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """Exit code and top-level packages imported by `routewatch ARGS` in a fresh interpreter."""
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, str(out), *args], check=True, capture_output=True, timeout=300)
    got = json.loads(out.read_text())
    return got["code"], {m.split(".")[0] for m in got["modules"]}


@pytest.mark.parametrize("args", [
    ("--help",),
    ("analyze", "--help"),
    ("alerts", "list", "--help"),
    ("backtest", "--help"),
    ("export", "--help"),
    ("run", "--help"),
    ("record", "--help"),
    ("nonsense",),
])
def test_help_and_usage_errors_load_no_heavy_library(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, modules = loaded(tmp_path, *args)
    assert code in (0, 2)
    assert sorted(modules & set(HEAVY)) == []


def test_analyze_needs_no_alembic_on_a_new_or_current_sqlite_database(tmp_path: Path) -> None:
    tlog = write_tlog(tmp_path / "patrol.tlog")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    args = ("analyze", str(tlog), "--corridors", str(corridors_path()), "--db", db, "--quiet")
    for _ in range(2):  # a new file (the schema snapshot), then one already at the head revision
        code, modules = loaded(tmp_path, *args)
        assert code == 0
        assert "alembic" not in modules
        assert {"sqlalchemy", "pymavlink", "shapely"} <= modules  # it did the work


def test_default_database_is_the_settings_default() -> None:
    assert StoreConfig().url == DEFAULT_DB


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("args", [
    ("corridors", "validate", "CORRIDORS"),  # never turns the collector back on itself
    ("alerts", "list", "--db", "DB"),  # opens the store: _started() turns it on
])
def test_a_command_leaves_the_collector_as_it_found_it(tmp_path: Path, enabled: bool, args: tuple[str, ...]) -> None:
    given = {"CORRIDORS": str(corridors_path()), "DB": f"sqlite:///{tmp_path / 'x.db'}"}
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        result = CliRunner().invoke(main, [given.get(a, a) for a in args])
        assert result.exit_code == 0, result.output
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == 0
    finally:
        (gc.enable if was else gc.disable)()
