"""Settings: YAML + environment, validated with the key path and reason in every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from routewatch.config import ConfigError, load_settings, parse_settings
from routewatch.config.loader import apply_env
from routewatch.config.reference import settings_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "routewatch.yaml"

BAD = [
    ("bad scheme", {"sources": [{"name": "a", "url": "udpx:1.2.3.4:5"}]}, "sources[0].url: unsupported scheme 'udpx'"),
    ("missing url", {"sources": [{"name": "a"}]}, "sources[0].url: Field required"),
    ("bad name", {"sources": [{"name": "a b", "url": "udpin:0.0.0.0:1"}]}, "sources[0].name"),
    ("duplicate names", {"sources": [{"name": "a", "url": "udpin:0.0.0.0:1"}, {"name": "a", "url": "tcp:h:1"}]},
     "duplicate source name"),
    ("out of bounds", {"engine": {"confirm_fixes": 0}}, "engine.confirm_fixes: Input should be greater than or equal"),
    ("unknown key", {"engine": {"hysteresis": 3}}, "engine.hysteresis: Extra inputs are not permitted"),
    ("unknown section", {"engines": {}}, "engines: Extra inputs are not permitted"),
    ("bad db", {"store": {"url": "mysql://x"}}, "store.url: unsupported database URL"),
    ("bad alert kind", {"alerts": {"kinds": ["teleport"]}}, "alerts.kinds: unknown alert kind"),
    ("bad speed", {"engine": {"max_speed_m_s": {"car": -1}}}, "engine.max_speed_m_s: speeds must be"),
    ("wrong type", {"engine": {"min_dwell_s": "soon"}}, "engine.min_dwell_s: Input should be a valid number"),
    # A camera's name names its recordings directory: none that is '..', '.', or hidden beside the others.
    ("camera name ..", {"cameras": [{"name": "..", "url": "v.mp4"}]}, "cameras[0].name: String should match"),
    ("camera name .", {"cameras": [{"name": ".", "url": "v.mp4"}]}, "cameras[0].name: String should match"),
    ("hidden camera name", {"cameras": [{"name": ".exports", "url": "v.mp4"}]}, "cameras[0].name: String should match"),
    ("camera name with /", {"cameras": [{"name": "a/b", "url": "v.mp4"}]}, "cameras[0].name: String should match"),
]


@pytest.mark.parametrize(("name", "tree", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_settings_name_the_key(name, tree, message):
    with pytest.raises(ConfigError) as exc:
        parse_settings(tree)
    assert message in str(exc.value)


def test_empty_settings_are_the_embedded_defaults():
    s = parse_settings({})
    assert s.sources == [] and s.store.url.startswith("sqlite:///")


def test_example_file_is_valid_and_paths_are_relative_to_it():
    s = load_settings(EXAMPLE, env={})
    assert [x.name for x in s.sources] == ["patrol1", "relay"]
    assert s.corridors.file == EXAMPLE.parent / "corridors.geojson"


def test_environment_overrides(tmp_path):
    s = load_settings(EXAMPLE, env={"ROUTEWATCH_STORE__URL": "sqlite:///other.db",
                                    "ROUTEWATCH_SOURCES__0__URL": "tcp:10.0.0.1:5760",
                                    "ROUTEWATCH_ENGINE__HYSTERESIS_M": "8", "UNRELATED": "x"})
    assert s.store.url == "sqlite:///other.db"
    assert s.sources[0].url == "tcp:10.0.0.1:5760" and s.sources[1].url == "tcp:127.0.0.1:5760"
    assert s.engine.hysteresis_m == 8.0


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match=r"engine\.hysteresis_m"):
        load_settings(None, env={"ROUTEWATCH_ENGINE__HYSTERESIS_M": "-3"})


@pytest.mark.parametrize(("text", "message"), [
    ("sources: [", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("", None),
])
def test_yaml_problems(tmp_path, text, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    if message is None:
        assert load_settings(f, env={}).sources == []
        return
    with pytest.raises(ConfigError, match=message):
        load_settings(f, env={})


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read file"):
        load_settings("/nonexistent/routewatch.yaml", env={})


def test_apply_env_ignores_other_variables():
    assert apply_env({}, {"PATH": "/bin", "ROUTEWATCH_X": "1"}) == {}


def test_reference_lists_every_section():
    ref = settings_reference()
    for key in ("sources[].url", "engine.hysteresis_m", "alerts.cooldown_s", "store.url", "logging.level"):
        assert f"`{key}`" in ref


@pytest.mark.parametrize(("url", "ok"), [
    ("udpin:0.0.0.0:14550", True), ("tcp:127.0.0.1:5760", True), ("serial:/dev/ttyUSB0:57600", True),
    ("serial:/dev/ttyACM0", True), ("file:/tmp/x.tlog", True), ("logs/flight.tlog", True),
    ("tcp:127.0.0.1:notaport", False), ("udpin:localhost", False), ("udpin:host:70000", False),
    ("serial:", False), ("serial:/dev/x:fast", False), ("file:", False), ("", False), ("http://x", False),
])
def test_source_urls_are_checked_before_run(url, ok):
    tree = {"sources": [{"name": "a", "url": url}]}
    if ok:
        assert parse_settings(tree).sources[0].url == url
    else:
        with pytest.raises(ConfigError, match=r"sources\[0\]\.url"):
            parse_settings(tree)


def test_yaml_aliases_are_refused(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text("a: &a [1, 2]\nb: [*a, *a]\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_settings(f, env={})


def test_env_can_build_a_source_field_by_field():
    s = load_settings(None, env={"ROUTEWATCH_SOURCES__0__NAME": "a", "ROUTEWATCH_SOURCES__0__URL": "tcp:h:1"})
    assert [(x.name, x.url) for x in s.sources] == [("a", "tcp:h:1")]
