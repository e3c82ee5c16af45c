"""The coverage panel in Chromium: footprints of a fixed camera (`routewatch analyze --camera` on a rendered
25 s video) in the database `routewatch run` serves; one corridor in view, one 250 m south of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson
from tests.browser.conftest import COMMANDER, Server, run_server, sign_in
from tests.e2e.test_coverage import FPS, INSIDE, OUTSIDE, SECONDS
from tests.e2e.test_vision_fixed import GCP_POINTS, T0, camera_file, render

# The video's span as the page's UTC inputs take it.
FROM, TO = T0.strftime("%Y-%m-%dT%H:%M:%S"), (T0 + timedelta(seconds=SECONDS)).strftime("%Y-%m-%dT%H:%M:%S")
RENDERED = ("(layer) => window.routewatchMap.queryRenderedFeatures({layers: [layer]})"
            ".map((f) => f.properties.corridor_id)")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: Path) -> Iterator[Server]:
    """`run` over a database already holding the camera's footprints, with the two corridors in force."""
    tmp = tmp_path_factory.mktemp("coverage-ui")
    video = tmp / "gate.avi"
    render(video, seconds=SECONDS, fps=FPS)
    corridors = tmp / "corridors.geojson"
    corridors.write_text(dumps_geojson([INSIDE, OUTSIDE]))
    db = f"sqlite:///{tmp / 'rw.db'}"  # the database run_server uses
    camera = camera_file(tmp / "camera.json", GCP_POINTS)
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(camera), "--corridors", str(corridors),
                                    "--db", db, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ingest"]["coverage_rows"] == 1
    with run_server(tmp, ui_built, corridors_file=corridors) as s:
        yield s


def open_panel(page: Any) -> None:
    page.click("#nav-coverage")
    page.wait_for_selector("#coverage-panel:not([hidden])")


def run_window(page: Any, start: str = FROM, end: str = TO) -> None:
    page.fill("#cov-from", start)
    page.fill("#cov-to", end)
    page.click("#cov-run")


def cells(page: Any, corridor: str) -> dict[str, str]:
    row = page.locator(f"#cov-rows tr.cov-row[data-corridor-id='{corridor}']")
    return {k: row.locator(f"td.cov-{k}").inner_text() for k in ("share", "ever", "gaps", "longest")}


def percent(text: str) -> float:
    m = re.fullmatch(r"(\d+\.\d)%", text)
    assert m, text
    return float(m.group(1))


def test_the_corridor_in_view_is_covered_and_the_other_is_one_gap(browser: Any, server: Server,
                                                                   artifacts: Path) -> None:
    page = sign_in(browser, server, COMMANDER)
    assert page.is_hidden("#nav-editor") and page.is_visible("#nav-coverage")
    open_panel(page)
    # The default window: the last 24 h, up to the next whole minute.
    start, end = (datetime.fromisoformat(page.input_value(i)).replace(tzinfo=UTC) for i in ("#cov-from", "#cov-to"))
    assert end - start == timedelta(days=1) and end.second == 0
    assert timedelta(0) < end - datetime.now(UTC) <= timedelta(minutes=1, seconds=5)
    run_window(page)
    page.wait_for_selector("#cov-results:not([hidden])", timeout=30_000)
    [answer] = [r for r in page.responses if "/api/coverage?" in r.url]
    assert answer.status == 200
    by_id = {c["id"]: c for c in answer.json()["corridors"]}
    assert set(by_id) == {"inside", "outside"}
    inside, outside = cells(page, "inside"), cells(page, "outside")
    # In view for the whole video: about 100% of the window (within a frame), and all of its area.
    assert percent(inside["share"]) >= 100 * (1 - 1.5 / (FPS * SECONDS)), inside
    assert percent(inside["share"]) == pytest.approx(100 * by_id["inside"]["covered_time_share"], abs=0.05)
    assert inside["ever"] == "100.0%"
    assert inside["gaps"] == str(len(by_id["inside"]["gaps"]))
    # Out of view: never covered, one gap over the whole window.
    assert outside == {"share": "0.0%", "ever": "0.0%", "gaps": "1", "longest": "25 s"}
    # The covered part is drawn for the corridor in view only.
    page.wait_for_function(f"() => ({RENDERED})('coverage-fill').includes('inside')")
    assert set(page.evaluate(RENDERED, "coverage-fill")) == {"inside"}
    assert page.evaluate(RENDERED, "coverage-picked") == []
    # Expanding a row lists its intervals and gaps; the corridor in view is outlined on the map.
    page.click("#cov-rows tr.cov-row[data-corridor-id='outside'] .cov-toggle")
    detail = page.locator("#cov-rows tr.cov-row[data-corridor-id='outside'] + tr.cov-detail")
    assert detail.locator(".cov-intervals").inner_text() == "none"
    assert detail.locator(".cov-gap").all_inner_texts() == [
        "2026-05-01 03:00:00 UTC – 2026-05-01 03:00:25 UTC\n25 s"]
    page.click("#cov-rows tr.cov-row[data-corridor-id='inside'] .cov-toggle")
    detail = page.locator("#cov-rows tr.cov-row[data-corridor-id='inside'] + tr.cov-detail")
    [interval] = detail.locator(".cov-interval").all_inner_texts()
    assert interval.startswith("2026-05-01 03:00:00 UTC – 2026-05-01 03:00:2") and "by gate" in interval, interval
    assert "100.0% of the area" in interval
    assert page.get_attribute("#cov-rows tr.cov-row[data-corridor-id='inside'] .cov-toggle", "aria-expanded") == "true"
    page.wait_for_function(f"() => ({RENDERED})('coverage-picked').includes('inside')")
    assert page.evaluate("() => { const s = document.getElementById('side'); return s.scrollWidth <= s.clientWidth; }")
    page.locator("#cov-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "coverage.png"))
    # Closing the panel clears the layer.
    page.click("#cov-close")
    page.wait_for_selector("#feed-panel:not([hidden])")
    page.wait_for_function(f"() => ({RENDERED})('coverage-fill').length === 0")
    assert page.is_hidden("#coverage-panel")
    assert page.js_errors == []
    page.context.close()


def test_on_a_phone(browser: Any, server: Server, artifacts: Path) -> None:
    page = sign_in(browser, server, COMMANDER, **PHONE)
    open_panel(page)
    run_window(page)
    page.wait_for_selector("#cov-results:not([hidden])", timeout=30_000)
    page.click("#cov-rows tr.cov-row[data-corridor-id='inside'] .cov-toggle")
    assert page.evaluate("() => { const s = document.getElementById('side'); return s.scrollWidth <= s.clientWidth; }")
    for sel in ("#cov-from", "#cov-to", "#cov-run", "#cov-table", "#cov-rows .cov-interval"):
        box = page.locator(sel).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (sel, box)
    page.locator("#cov-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "coverage-phone.png"))
    assert page.js_errors == []
    page.context.close()


def _unknown_corridor(page: Any) -> None:
    page.evaluate("() => { const s = document.getElementById('cov-corridor'); s.add(new Option('nope', 'nope'));"
                  " s.value = 'nope'; }")


@pytest.mark.parametrize(("start", "end", "make_bad", "says"), [
    (TO, FROM, None, "reversed"),
    (FROM, FROM, None, "empty"),
    ("2026-03-01T00:00:00", TO, None, "at most 31 days"),
    (FROM, TO, _unknown_corridor, "nope"),
    ("", TO, None, "Set both From and To (UTC)."),
])
def test_bad_input_is_shown_inline(browser: Any, server: Server, start: str, end: str, make_bad: Any,
                                   says: str) -> None:
    page = sign_in(browser, server, COMMANDER)
    open_panel(page)
    if make_bad:
        make_bad(page)
    run_window(page, start, end)
    page.wait_for_function("() => document.getElementById('cov-problems').textContent !== ''")
    assert says in page.inner_text("#cov-problems")
    assert page.is_hidden("#cov-results")
    statuses = [r.status for r in page.responses if "/api/coverage?" in r.url]
    assert statuses == ([] if not start else [404] if make_bad else [422])
    assert page.js_errors == []
    page.context.close()


def test_a_field_user_does_not_see_coverage(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "fieldy")
    assert page.is_hidden("#nav-coverage")
    page.goto(server.base + "/#/coverage")
    page.wait_for_selector("#forbidden-panel:not([hidden])")
    assert page.is_hidden("#coverage-panel")
    assert "coverage" in page.inner_text("#forbidden-panel")
    got = page.request.get(f"{server.base}/api/coverage", params={"from": "2026-05-01T03:00:00Z",
                                                                   "to": "2026-05-01T04:00:00Z"})
    assert got.status == 403
    page.context.close()
