"""Live tracks drawn as class icons with a heading wedge; an alert's class and snapshot in the feed and detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from routewatch.model import Alert, AlertChange, Change, EventKind, Severity, alert_id
from routewatch.store import Store
from tests.browser.conftest import Server, aircraft_report, drone_report, send_reports, sign_in

RENDERED = """(layer) => window.routewatchMap.queryRenderedFeatures({layers: [layer]}).map((f) => f.properties)"""
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_live_tracks_show_class_icons_and_heading(browser: Any, server: Server, artifacts: Path) -> None:
    page = sign_in(browser, server, "fieldy")
    lon, lat = page.evaluate("() => window.routewatchMap.getCenter().toArray()")
    # A Remote ID drone heading east and an ADS-B aircraft heading 200 degrees, either side of the centre.
    reports: list[bytes] = []
    for i in range(8):
        reports.append(drone_report("RID-ICON-1", lat + 0.002, lon - 0.003 + i * 1e-5, heading_deg=90.0))
        reports.append(aircraft_report(0xABC123, lat - 0.002, lon + 0.003 - i * 1e-5, heading_deg=200.0))
    send_reports(server.radio_port, reports, gap_s=0.1)
    wanted = {"odid:RID-ICON-1", "adsb:ABC123"}
    page.wait_for_function(f"() => ({RENDERED})('tracks').filter((p) => {sorted(wanted)}.includes(p.id)).length == 2",
                           timeout=30_000)
    page.wait_for_function(f"() => ({RENDERED})('track-heading').length >= 2", timeout=10_000)
    page.screenshot(path=str(artifacts / "map-tracks.png"))
    icons = {p["id"]: (p["icon"], p["role"], p["cls"]) for p in page.evaluate(RENDERED, "tracks") if p["id"] in wanted}
    assert icons == {"odid:RID-ICON-1": ("drone", "target", "drone"), "adsb:ABC123": ("aircraft", "target", "aircraft")}
    headings = {p["id"]: p["heading"] for p in page.evaluate(RENDERED, "track-heading") if p["id"] in wanted}
    assert headings == {"odid:RID-ICON-1": pytest.approx(90.0, abs=1), "adsb:ABC123": pytest.approx(200.0, abs=1)}
    # The images the layers use were drawn by the page (icons.ts), and no text labels are left.
    for name in ("cls-drone-target", "cls-aircraft-target", "heading-target"):
        assert page.evaluate("(n) => window.routewatchMap.hasImage(n)", name), name
    assert page.locator(".track-label").count() == 0
    # Clicking a track tells what it is (the aircraft: the drone may have raised an alert whose marker is on top).
    point = page.evaluate("""() => { const m = window.routewatchMap;
        const f = m.queryRenderedFeatures({layers: ['tracks']}).find((f) => f.properties.id === 'adsb:ABC123');
        return m.project(f.geometry.coordinates); }""")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_selector(".maplibregl-popup:has-text('adsb:ABC123')")
    assert "aircraft" in page.inner_text(".maplibregl-popup")
    assert page.js_errors == []
    page.context.close()


def _jpeg(width: int, height: int) -> bytes:
    import cv2
    import numpy as np

    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = np.linspace(40, 200, width, dtype=np.uint8)  # a green ramp, so it is not one colour
    cv2.rectangle(image, (width // 3, height // 4), (width // 2, height * 3 // 4), (0, 0, 255), 3)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data)


def _add_alert(server: Server, subject: str, cls: str, snapshot: tuple[int, int] | None) -> str:
    """An open alert written straight into the running server's store (as the pipeline would), with a snapshot."""
    from routewatch.store import Snapshot

    now = datetime.now(UTC)
    alert = Alert(id=alert_id(subject, "ranch-exclusion", "enter", now), kind=EventKind.ENTER,
                  corridor_id="ranch-exclusion", subject_id=subject, opened_at=now, corridor_version=1,
                  subject_class=cls, last_seen=now, lon=-110.98, lat=31.3325, severity=Severity.HIGH,
                  source="cam-test")
    with Store(server.db) as store:
        store.batches.write([AlertChange(Change.OPENED, alert)], [])
        if snapshot is not None:
            w, h = snapshot
            store.snapshots.put(Snapshot(alert.id, "cam-test", now, w, h, (w // 3, h // 4, w // 2, h * 3 // 4),
                                        _jpeg(w, h)))
    return alert.id


@pytest.mark.parametrize(("cls", "snapshot"), [
    ("person", (1280, 720)),  # wider than a phone: scaled down to fit
    ("truck", (320, 480)),     # portrait
    ("bicycle", None),         # no camera saw it: no image
])
def test_alert_class_and_snapshot_on_a_phone(browser: Any, server: Server, cls: str,
                                             snapshot: tuple[int, int] | None, artifacts: Path) -> None:
    aid = _add_alert(server, f"cam-test:{cls}-1", cls, snapshot)
    page = sign_in(browser, server, "fieldy", **PHONE)
    item = page.locator(f"li.alert-item[data-alert-id='{aid}']")
    item.wait_for(timeout=10_000)
    assert item.locator(".cls").inner_text().strip() == cls
    assert item.locator(".cls img").count() == 1
    item.click()
    page.wait_for_selector("#detail-fields")
    assert page.inner_text("#detail-class").strip() == cls
    if snapshot is None:
        assert page.locator("#detail-snapshot").count() == 0
        assert not [r for r in page.responses if r.url.endswith("/snapshot")]
        page.context.close()
        return
    img = page.locator("#detail-snapshot img")
    assert img.get_attribute("loading") == "lazy"
    assert cls in (img.get_attribute("alt") or "")
    assert img.get_attribute("src") == f"/api/alerts/{aid}/snapshot"
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=10_000)
    assert page.evaluate("(el) => [el.naturalWidth, el.naturalHeight]", img.element_handle()) == list(snapshot)
    snapshots = [r for r in page.responses if r.url.endswith("/snapshot")]
    assert [(r.status, r.headers["content-type"]) for r in snapshots] == [(200, "image/jpeg")]
    shown = img.bounding_box()
    assert shown is not None and shown["width"] <= 390 and shown["height"] <= 0.45 * 844 + 1
    page.screenshot(path=str(artifacts / f"alert-snapshot-{cls}.png"))
    assert page.js_errors == []
    page.context.close()


def test_world_tracks_with_their_sensor_tracks_on_demand(browser: Any, tmp_path: Path, ui_built: Path,
                                                         artifacts: Path) -> None:
    import json
    import time

    import paho.mqtt.client as mqtt

    from tests.browser.conftest import run_server
    from tests.kits.mqtt_broker import private_broker

    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        mqtt_cfg = {"broker": {"host": "127.0.0.1", "port": broker.port, "client_id": "rw-browser"},
                    "input": {"enabled": True, "topics": ["routewatch/v1/pos/+"]}}
        (tmp_path / "rw").mkdir()
        with run_server(tmp_path / "rw", ui_built, config={"world": {"enabled": True}, "mqtt": mqtt_cfg}) as server:
            page = sign_in(browser, server, "fieldy")
            lon, lat = page.evaluate("() => window.routewatchMap.getCenter().toArray()")
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-pub", protocol=mqtt.MQTTv5)
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            # Two cameras' reports of one walker (a pos.v1 track each), a metre apart, once a second.
            t0 = datetime.now(UTC).replace(microsecond=0)
            for i in range(8):
                for source, dx in (("cam-a", 0.0), ("cam-b", 1e-5)):
                    body = {"subject_id": "7", "class": "person", "time": (t0 + timedelta(seconds=i)).isoformat(),
                            "lon": lon + dx + i * 1.5e-5, "lat": lat, "accuracy_m": 2.0}
                    pub.publish(f"routewatch/v1/pos/{source}", json.dumps(body), qos=1).wait_for_publish(10)
                time.sleep(0.05)
            pub.loop_stop()
            ids = f"() => ({RENDERED})('tracks').map((p) => p.id).sort()"
            page.wait_for_function(f"() => ({ids})().some((id) => id.startsWith('w-'))", timeout=30_000)
            page.wait_for_selector("#sensors-toggle:not([hidden])")
            shown = [i for i in page.evaluate(ids) if i.startswith(("w-", "cam-"))]
            assert len(shown) == 1 and shown[0].startswith("w-")  # one walker, one track: the world's
            page.check("#sensor-tracks")
            page.wait_for_function(f"() => ({ids})().filter((id) => id.startsWith('cam-')).length == 2",
                                   timeout=10_000)
            assert sorted(i for i in page.evaluate(ids) if i.startswith("cam-")) == ["cam-a/7", "cam-b/7"]
            page.screenshot(path=str(artifacts / "map-world-and-sensor-tracks.png"))
            page.uncheck("#sensor-tracks")
            page.wait_for_function(f"() => ({ids})().filter((id) => id.startsWith('cam-')).length == 0",
                                   timeout=10_000)
            assert page.js_errors == []
            page.context.close()
