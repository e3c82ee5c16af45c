"""The README documents the settings as they are (the table is generated from the schema)."""

from pathlib import Path

from routewatch.config.loader import settings_reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_is_current():
    assert settings_reference() in README.read_text(encoding="utf-8"), (
        "README settings table is stale: paste the output of `routewatch config reference`")
