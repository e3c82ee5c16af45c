"""What a test needs that may be absent: skip off CI, fail on CI (where the dev extra and the data are there).

Use these instead of `pytest.importorskip` or a bare `pytest.skip`, which skip silently on CI too.
They work at module level as well as inside a test or fixture.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from tests.conftest import services_required


def missing(reason: str) -> NoReturn:
    """Skip (off CI) or fail (on CI) for want of something; allowed at module level."""
    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import `name`, or skip (fail on CI) naming the extra that brings it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"module {name} is not installed ({exc}): it comes with the dev extra (scripts/_venv.sh dev)")


def require_file(path: Path) -> Path:
    """`path` when it is a file, else skip (fail on CI): real data lives in ../shared/data beside the checkout."""
    if not path.is_file():
        missing(f"no file {path} (shared data is checked out beside the project)")
    return path


def needs_files(*paths: Path) -> pytest.MarkDecorator:
    """A mark that skips a test off CI when a data file is absent; on CI the test runs (and fails on it)."""
    absent = [str(p) for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(absent) and not services_required(), reason=f"no file {', '.join(absent)}")
