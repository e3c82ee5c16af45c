"""The docs document the settings as they are (docs/settings.md is generated from the schema)."""

from pathlib import Path

from routewatch.config.reference import REGENERATE, settings_page, settings_reference

SETTINGS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_reference_is_current():
    assert SETTINGS.read_text(encoding="utf-8") == settings_page(), (
        f"docs/settings.md is stale: regenerate it with `{REGENERATE}`")


def test_settings_page_has_every_row_of_the_table():
    page = settings_page()
    assert all(row in page for row in settings_reference().splitlines()[2:])
