"""The browser UI end to end in headless Chromium against a live `routewatch run` replaying the demo."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import PASSWORD, Server, drone_report, send_reports, sign_in


def test_login_rejects_a_wrong_password(browser: Any, server: Server) -> None:
    page = browser.new_context().new_page()
    page.goto(server.base + "/")
    page.fill("#username", "fieldy")
    page.fill("#password", "not the password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('Wrong username or password')")
    assert page.is_hidden("#app-page")
    page.context.close()


def test_repeated_wrong_passwords_lock_the_name_for_a_while(browser: Any, server: Server) -> None:
    page = browser.new_context().new_page()
    page.goto(server.base + "/")
    page.fill("#username", "no-such-user")  # not a real user: the others' tests must still sign in
    for _ in range(5):  # the default limit per name
        page.fill("#password", "guess guess")
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#login-error:has-text('Wrong username or password')")
        page.evaluate("document.getElementById('login-error').textContent = ''")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('Too many failed sign-ins')")
    wait = re.fullmatch(r"Too many failed sign-ins\. Try again in (\d+) s\.", page.inner_text("#login-error"))
    assert wait is not None and 0 < int(wait[1]) <= 60  # the default first lock is 60 s
    assert page.is_hidden("#app-page")
    page.context.close()


def test_field_user_sees_a_live_alert_and_acknowledges_it(browser: Any, server: Server, artifacts: Path) -> None:
    page = sign_in(browser, server, "fieldy")
    assert page.is_hidden("#nav-editor")
    # An alert arrives over /api/live while the page is open (the replay raises them as it goes).
    page.wait_for_function("() => Number(document.body.dataset.liveAlerts || 0) > 0", timeout=90_000)
    page.wait_for_selector("#live-status.up")
    page.wait_for_selector("li.alert-item.state-open", timeout=90_000)
    page.screenshot(path=str(artifacts / "map-feed.png"))
    item = page.locator("li.alert-item.state-open").first
    alert_id = item.get_attribute("data-alert-id")
    assert alert_id
    # By id: the feed re-renders as the replay raises alerts, so `.first` may be another row by now.
    page.click(f"li.alert-item[data-alert-id='{alert_id}']")
    page.wait_for_selector("#detail-fields")
    text = page.inner_text("#detail")
    assert "Corridor" in text and "version" in text and "Subject" in text and "Opened" in text
    page.fill("#ack-comment", "seen from the browser test")
    page.click("#ack-button")
    page.wait_for_selector("#ack-result:has-text('Acknowledged')")
    page.wait_for_selector("#detail-state:has-text('acknowledged')")
    page.screenshot(path=str(artifacts / "alert-detail.png"))
    got = page.request.get(f"{server.base}/api/alerts/{alert_id}").json()
    assert got["state"] == "acknowledged"
    assert any(e["change"] == "acknowledged" and e["comment"] == "seen from the browser test" and e["actor"] == "fieldy"
               for e in got["events"])
    assert page.js_errors == []
    page.context.close()


def test_field_user_dismisses_an_alert(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "fieldy")
    page.wait_for_selector("li.alert-item", timeout=90_000)
    item = page.locator("li.alert-item.state-open, li.alert-item.state-acknowledged").first
    alert_id = item.get_attribute("data-alert-id")
    assert alert_id
    # By id: the feed re-renders as the replay raises alerts, so `.first` may be another row by now.
    page.click(f"li.alert-item[data-alert-id='{alert_id}']")
    page.wait_for_selector("#detail-fields")
    assert page.is_enabled("#dismiss-button")
    page.fill("#ack-comment", "a deer, not a person")
    page.click("#dismiss-button")
    page.wait_for_selector("#ack-result:has-text('Dismissed')")
    page.wait_for_selector("#detail-state:has-text('dismissed')")
    assert page.is_disabled("#dismiss-button")
    got = page.request.get(f"{server.base}/api/alerts/{alert_id}").json()
    assert got["dismissed"] is True, got["events"]
    assert any(e["actor"] == "fieldy" and e["comment"] == "dismissed: a deer, not a person" for e in got["events"])
    assert page.js_errors == []
    page.context.close()


def test_phone_sized_screen(browser: Any, server: Server, artifacts: Path) -> None:
    page = sign_in(browser, server, "fieldy", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.wait_for_selector("li.alert-item", timeout=90_000)
    map_box, side_box = page.locator("#map").bounding_box(), page.locator("#side").bounding_box()
    assert map_box["width"] <= 390 and side_box["width"] <= 390
    assert side_box["y"] >= map_box["y"] + map_box["height"] - 1  # stacked: map above the feed
    page.screenshot(path=str(artifacts / "phone.png"))
    # A change committed by someone else reaches the open page within a second.
    page.wait_for_selector("li.alert-item.state-open", timeout=90_000)
    alert_id = page.locator("li.alert-item.state-open").first.get_attribute("data-alert-id")
    with httpx.Client(base_url=server.base, timeout=10) as other:
        assert other.post("/api/login", json={"username": "plato", "password": PASSWORD}).is_success
        t0 = time.monotonic()
        assert other.post(f"/api/alerts/{alert_id}/ack", json={"comment": "from another client"}).is_success
        committed = time.monotonic()
    page.wait_for_selector(f"li.alert-item.state-acknowledged[data-alert-id='{alert_id}']", timeout=5_000)
    shown = time.monotonic()
    lag = shown - committed
    assert lag < 1.0, f"shown {lag:.2f} s after the commit (the request took {committed - t0:.2f} s)"
    page.context.close()


def test_planner_draws_and_saves_a_corridor(browser: Any, server: Server, artifacts: Path) -> None:
    page = sign_in(browser, server, "plato")
    page.click("#nav-editor")
    page.wait_for_selector("#editor-panel:not([hidden])")
    page.fill("#ed-id", "browser-route")
    page.fill("#ed-name", "Drawn in the browser test")
    page.select_option("#ed-kind", "corridor")
    page.select_option("#ed-shape", "LineString")
    page.select_option("#ed-direction", "forward")
    page.fill("#ed-classes", "person, car")
    page.click("#ed-draw")
    box = page.locator("#map").bounding_box()
    for fx, fy in ((0.3, 0.7), (0.45, 0.5), (0.6, 0.3)):
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    coords = page.input_value("#ed-coords")
    assert coords.count("[") == 4, coords  # three points drawn
    page.fill("#ed-comment", "new route seen by the patrol")
    # No width for a centre-line: the API's 422 is shown inline.
    page.click("#ed-save")
    page.wait_for_selector("#ed-problems li:has-text('width_m')")
    page.fill("#ed-width", "150")
    page.click("#ed-save")
    page.wait_for_selector("#ed-result:has-text('Saved browser-route version 1')")
    assert page.locator("#ed-problems li").count() == 0
    assert page.input_value("#ed-comment") == ""  # a save's reason must not carry over into the next save
    page.screenshot(path=str(artifacts / "editor.png"))
    listed = page.request.get(f"{server.base}/api/corridors").json()
    mine = [f for f in listed["features"] if f["properties"]["id"] == "browser-route"]
    assert len(mine) == 1 and mine[0]["geometry"]["type"] == "LineString"
    assert mine[0]["properties"]["width_m"] == 150 and mine[0]["properties"]["classes"] == ["car", "person"]
    # Change it: a new version via PUT (drones count too now).
    page.fill("#ed-name", "Renamed")
    page.fill("#ed-classes", "person, car, drone")
    page.fill("#ed-comment", "renamed; drones use it too")
    page.click("#ed-save")
    page.wait_for_selector("#ed-result:has-text('Saved browser-route version 2')")
    assert page.input_value("#ed-comment") == ""
    history = page.request.get(f"{server.base}/api/corridors/browser-route/history").json()
    assert [(v["version"], v["author"], v["comment"]) for v in history] == [
        (1, "plato", "new route seen by the patrol"), (2, "plato", "renamed; drones use it too")]
    # The running pipeline takes the saved version up on its own (SQLite: polled every 2 s); wait for
    # that (it may already have happened), and keep reporting long enough either way.
    reloads = server.log.read_text().count("corridor set changed")
    deadline = time.monotonic() + 5
    while server.log.read_text().count("corridor set changed") <= reloads and time.monotonic() < deadline:
        time.sleep(0.2)
    # A following report: a Remote-ID drone relayed over the live radio link hovers on the new route.
    (a_lon, a_lat), (b_lon, b_lat) = mine[0]["geometry"]["coordinates"][:2]
    lon, lat = a_lon + 0.2 * (b_lon - a_lon), a_lat + 0.2 * (b_lat - a_lat)
    send_reports(server.radio_port, [drone_report("RID-BROWSER-1", lat, lon + i * 1e-5) for i in range(20)])
    deadline = time.monotonic() + 30
    hits: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not hits:  # the demo replay's own tracks may cross the route too
        time.sleep(0.3)
        items = page.request.get(f"{server.base}/api/alerts?corridor=browser-route").json()
        hits = [h for h in (items["items"] if isinstance(items, dict) else items) if "RID-BROWSER-1" in h["subject_id"]]
    assert [(h["kind"], h["corridor_version"]) for h in hits] == [("enter", 2)], hits
    page.click("#nav-map")  # and the field view shows it, naming the new version
    page.wait_for_selector("#feed :text('browser-route v2')", timeout=10_000)
    assert page.js_errors == []
    page.context.close()


def test_planner_imports_a_file_and_sees_its_history(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "plato")
    page.click("#nav-editor")
    page.wait_for_selector("#editor-panel:not([hidden])")
    square = [[-110.99, 31.33], [-110.98, 31.33], [-110.98, 31.34], [-110.99, 31.34], [-110.99, 31.33]]
    upload = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "id": "imported-zone", "kind": "exclusion", "name": "From a file"},
        "geometry": {"type": "Polygon", "coordinates": [square]}}]}
    page.set_input_files("#imp-file", files=[{"name": "../../zone.geojson", "mimeType": "application/geo+json",
                                               "buffer": json.dumps(upload).encode()}])
    page.fill("#imp-comment", "survey of the new exclusion zone")
    page.click("#imp-submit")
    page.wait_for_selector("#imp-result:has-text('Imported imported-zone v1')")
    page.wait_for_function("() => document.getElementById('ed-existing').value === 'imported-zone'")
    entry = page.locator("#ed-history li[data-version='1']")
    entry.wait_for()
    assert "plato" in entry.inner_text() and "survey of the new exclusion zone" in entry.inner_text()
    entry.locator("button.ed-show-version").click()
    page.wait_for_selector("#ed-history li.shown[data-version='1']")
    history = page.request.get(f"{server.base}/api/corridors/imported-zone/history").json()
    assert [(v["version"], v["author"], v["comment"]) for v in history] == [
        (1, "plato", "survey of the new exclusion zone")]
    exported = page.request.get(server.base + page.get_attribute("#export-kml", "href")).text()
    assert "imported-zone" in exported
    assert page.js_errors == []
    page.context.close()


def test_field_user_cannot_reach_the_editor(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "fieldy")
    assert page.is_hidden("#nav-editor")
    page.goto(server.base + "/#/editor")
    page.wait_for_selector("#forbidden-panel:not([hidden])")
    assert page.is_hidden("#editor-panel")
    feature = {"type": "Feature", "properties": {"id": "nope", "kind": "exclusion"},
               "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
    assert page.request.post(f"{server.base}/api/corridors", data=feature).status == 403
    assert page.request.put(f"{server.base}/api/corridors/ranch-exclusion", data=feature).status == 403
    page.context.close()
