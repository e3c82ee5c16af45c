"""The planner's backtest panel in Chromium: a draft corridor re-run over the stored history of a live run.

Two Remote ID drones hover over the live radio link: one inside the demo's ranch exclusion zone (a
live alert), one 500 m east of it (none). A draft that widens the zone east adds the second drone's
alert and keeps the first; a draft that moves the zone east also removes the first.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from routewatch.pipeline.core import AUTOPILOT_FENCE
from tests.browser.conftest import PASSWORD, Server, drone_report, sign_in

RANCH = "ranch-exclusion"  # the demo's exclusion zone: lon -110.970543..-110.963187, lat 31.338813..31.343322
INSIDE = ("RID-BT-IN", 31.3410, -110.9670)
EAST = ("RID-BT-EAST", 31.3410, -110.9615)
WIDER = [[-110.970543, 31.338813], [-110.9595, 31.338813], [-110.9595, 31.343322], [-110.970543, 31.343322]]
MOVED = [[-110.9640, 31.338813], [-110.9595, 31.338813], [-110.9595, 31.343322], [-110.9640, 31.343322]]
RENDERED = "() => window.routewatchMap.queryRenderedFeatures({layers: ['backtest-points']}).map((f) => f.properties)"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def hover(port: int, drones: list[tuple[str, float, float]], fixes: int = 25, gap_s: float = 0.3) -> None:
    """Each drone reports `fixes` times, `gap_s` apart, each report timed as it is sent (1 m east per fix)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(fixes):
            for uas, lat, lon in drones:
                s.sendto(drone_report(uas, lat, lon + i * 1e-5), ("127.0.0.1", port))
            time.sleep(gap_s)


def live_alerts(server: Server) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.base, timeout=10) as c:
        assert c.post("/api/login", json={"username": "plato", "password": PASSWORD}).is_success
        items: list[dict[str, Any]] = c.get("/api/alerts", params={"limit": 500}).json()["items"]
        return items


@pytest.fixture(scope="module")
def history(server: Server) -> dict[str, Any]:
    """The drones' stored history; returns the live alert it raised (the inside drone entering the zone)."""
    hover(server.radio_port, [INSIDE, EAST])
    deadline = time.monotonic() + 30
    mine: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not mine:  # the writer flushes every 0.2 s
        mine = [a for a in live_alerts(server) if "RID-BT-" in a["subject_id"]]
        time.sleep(0.3)
    assert [(a["kind"], a["corridor_id"], a["subject_id"]) for a in mine] == [("enter", RANCH, "odid:RID-BT-IN")]
    return mine[0]


def utc_input(value: str) -> datetime:
    """A datetime-local value the page reads as UTC."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def to_editor(page: Any) -> None:
    page.click("#nav-editor")
    page.wait_for_selector("#editor-panel:not([hidden])")


def open_panel(page: Any) -> None:
    if page.is_hidden("#editor-panel"):
        to_editor(page)
    page.click("#bt-panel summary")
    page.wait_for_selector("#bt-form", state="visible")


def edit_ranch(page: Any, ring: list[list[float]]) -> None:
    """Pick the ranch zone in the editor and type a new ring (not saved)."""
    page.select_option("#ed-existing", RANCH)
    page.fill("#ed-coords", json.dumps(ring))
    page.locator("#ed-coords").dispatch_event("change")


def rows(page: Any, part: str) -> list[tuple[str, str]]:
    """(alert id, text) of each row of one result list."""
    return [(b.get_attribute("data-alert-id"), b.inner_text()) for b in page.locator(f"#bt-{part} .bt-row").all()]


def in_window(alerts: list[dict[str, Any]], start: datetime, end: datetime) -> list[str]:
    return sorted(a["id"] for a in alerts if start <= datetime.fromisoformat(a["opened_at"]) < end
                  and a["corridor_id"] != AUTOPILOT_FENCE)


def test_a_widened_zone_adds_the_drone_east_of_it(browser: Any, server: Server, history: dict[str, Any],
                                                   artifacts: Path) -> None:
    page = sign_in(browser, server, "plato")
    to_editor(page)
    edit_ranch(page, WIDER)
    open_panel(page)
    # The default window: the 24 h up to just after the latest stored data, which holds the live alert.
    start, end = utc_input(page.input_value("#bt-from")), utc_input(page.input_value("#bt-to"))
    assert (end - start).total_seconds() == 86400
    assert start <= datetime.fromisoformat(history["opened_at"]) < end
    assert page.is_checked("#bt-draft")
    # Two submits in a row send one request: the second finds the run under way.
    page.evaluate("() => { const f = document.getElementById('bt-form'); f.requestSubmit(); f.requestSubmit(); }")
    page.wait_for_selector("#bt-results:not([hidden])", timeout=30_000)
    posts = [r for r in page.responses if r.url.endswith("/api/backtest") and r.request.method == "POST"]
    assert [r.status for r in posts] == [200]
    sent = posts[0].request.post_data_json
    assert sent["corridors"]["features"][-1]["properties"]["id"] == RANCH  # the unsaved draft, not the set in force
    unchanged = in_window(live_alerts(server), start, end)
    assert history["id"] in unchanged
    assert page.inner_text("#bt-counts") == f"1 added · 0 removed · {len(unchanged)} unchanged"
    added = rows(page, "added")
    assert len(added) == 1
    assert all(w in added[0][1] for w in ("enter", "drone", "odid:RID-BT-EAST", RANCH, "UTC")), added
    assert sorted(i for i, _ in rows(page, "unchanged")) == unchanged
    assert page.inner_text("#bt-n-added") == "(1)" and page.inner_text("#bt-removed") == "none"
    # Clicking the row centres the map on it, where its marker is drawn.
    page.click(f"#bt-added .bt-row[data-alert-id='{added[0][0]}']")
    page.wait_for_function(f"() => Math.abs(window.routewatchMap.getCenter().lng - {EAST[2]}) < 1e-3"
                           f" && Math.abs(window.routewatchMap.getCenter().lat - {EAST[1]}) < 1e-3")
    page.wait_for_function(f"() => ({RENDERED})().some((p) => p.change === 'added' && p.id === '{added[0][0]}')")
    assert {p["change"] for p in page.evaluate(RENDERED)} == {"added"}
    page.locator("#bt-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "backtest.png"))
    # Moved east instead: the inside drone's alert goes (a hollow marker), the east drone's comes.
    edit_ranch(page, MOVED)
    page.click("#bt-run")
    page.wait_for_function("() => document.getElementById('bt-counts').textContent.startsWith('1 added · 1 removed')")
    assert [i for i, _ in rows(page, "removed")] == [history["id"]]
    assert "odid:RID-BT-IN" in rows(page, "removed")[0][1]
    page.focus(f"#bt-removed .bt-row[data-alert-id='{history['id']}']")  # rows work from the keyboard too
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => Math.abs(window.routewatchMap.getCenter().lng - {INSIDE[2]}) < 1e-3")
    page.wait_for_function(f"() => ({RENDERED})().some((p) => p.change === 'removed' && p.id === '{history['id']}')")
    # Closing the panel clears the markers; nothing was saved.
    page.click("#bt-panel summary")
    page.wait_for_function(f"() => ({RENDERED})().length === 0")
    assert page.is_hidden("#bt-results")
    versions = page.request.get(f"{server.base}/api/corridors/{RANCH}/history").json()
    assert len(versions) == 1
    assert page.js_errors == []
    page.context.close()


def test_the_set_in_force_on_a_phone(browser: Any, server: Server, history: dict[str, Any], artifacts: Path) -> None:
    page = sign_in(browser, server, "plato", **PHONE)
    open_panel(page)
    page.check("#bt-current")
    page.click("#bt-run")
    page.wait_for_selector("#bt-results:not([hidden])", timeout=30_000)
    start, end = utc_input(page.input_value("#bt-from")), utc_input(page.input_value("#bt-to"))
    unchanged = in_window(live_alerts(server), start, end)
    assert page.inner_text("#bt-counts") == f"0 added · 0 removed · {len(unchanged)} unchanged"
    sent = next(r for r in page.responses if r.url.endswith("/api/backtest")).request.post_data_json
    assert sent["corridors"] is None
    assert page.evaluate("() => { const s = document.getElementById('side'); return s.scrollWidth <= s.clientWidth; }")
    for sel in ("#bt-from", "#bt-to", "#bt-run", "#bt-unchanged .bt-row"):
        box = page.locator(sel).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (sel, box)
    page.locator("#bt-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "backtest-phone.png"))
    assert page.js_errors == []
    page.context.close()


def _reversed(page: Any) -> None:
    start, end = page.input_value("#bt-from"), page.input_value("#bt-to")
    page.fill("#bt-from", end)
    page.fill("#bt-to", start)


def _empty(page: Any) -> None:
    page.fill("#bt-to", page.input_value("#bt-from"))


def _line_as_polygon(page: Any) -> None:
    page.fill("#ed-id", "bad-line")
    page.select_option("#ed-kind", "line")
    page.select_option("#ed-shape", "Polygon")
    page.fill("#ed-coords", json.dumps(WIDER))
    page.locator("#ed-coords").dispatch_event("change")


def _no_points(page: Any) -> None:
    page.fill("#ed-id", "no-shape-yet")


def _no_window(page: Any) -> None:
    page.fill("#bt-from", "")


@pytest.mark.parametrize(("make_bad", "says", "posted"), [
    (_reversed, "the window is reversed", True),
    (_empty, "the window is empty", True),
    (_line_as_polygon, "bad-line: kind line needs a LineString", True),
    (_no_points, "Draw at least 2 points for no-shape-yet.", False),
    (_no_window, "Set both From and To (UTC).", False),
])
def test_bad_input_is_shown_inline(browser: Any, server: Server, history: dict[str, Any], make_bad: Any, says: str,
                                   posted: bool) -> None:
    page = sign_in(browser, server, "plato")
    open_panel(page)
    make_bad(page)
    page.click("#bt-run")
    page.wait_for_selector(f"#bt-problems li:has-text({json.dumps(says)})", timeout=30_000)
    answers = [r.status for r in page.responses if r.url.endswith("/api/backtest")]
    assert answers == ([422] if posted else [])
    assert page.is_hidden("#bt-results") and page.is_enabled("#bt-run")
    assert page.js_errors == []
    page.context.close()
