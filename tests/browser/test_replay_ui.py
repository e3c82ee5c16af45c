"""The replay page in Chromium over a recorded synthetic run (the gate scene analysed with recording on, see
tests/e2e/recorded.py) in the database `routewatch run` serves, with `recording.dir` pointing at its segments.

The commander chooses the walker's alert: the frame at its opening is shown with its box drawn over it
(checked on a screenshot), frame steps follow the recorded frame times, and 8x play advances the time with one
frame request in flight at a time. A field user gets no link and a refusal.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import cv2
import numpy as np
import pytest

from tests.browser.conftest import PASSWORD, Server, run_server, sign_in
from tests.e2e.recorded import record_gate_run

COMMANDER = "cora"
PERIOD = timedelta(seconds=0.2)  # the recorded run is 5 fps
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
FRAME_TIME = "() => document.getElementById('rp-img').dataset.frameTime || ''"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: Path) -> Iterator[Server]:
    """`run` over a database and a recordings directory already holding the recorded gate run."""
    tmp = tmp_path_factory.mktemp("replay-ui")
    db = f"sqlite:///{tmp / 'rw.db'}"  # the database run_server uses
    run = record_gate_run(tmp, db)
    add = subprocess.run([sys.executable, "-m", "routewatch", "users", "add", COMMANDER, "--role", "commander",
                          "--db", db, "--password-stdin"], input=PASSWORD + "\n", text=True, capture_output=True,
                         timeout=60)
    assert add.returncode == 0, add.stderr
    recording = {"dir": str(run.root), "min_free_bytes": 0, "resume_free_bytes": 0}
    with run_server(tmp, ui_built, config={"recording": recording}) as s:
        yield s


def get(page: Any, server: Server, path: str, **params: str) -> Any:
    """A JSON answer of the API, with the page's session."""
    r = page.request.get(f"{server.base}{path}?{urlencode(params)}")
    assert r.ok, (path, r.status, r.text())
    return r.json()


def shown(page: Any) -> datetime:
    return datetime.fromisoformat(page.evaluate(FRAME_TIME))


def box_pixels(page: Any) -> tuple[np.ndarray, float, float]:
    """(x, y) in image pixels of the frame view's cyan (box colour) pixels, and the image's drawn scale."""
    png = page.locator("#rp-view").screenshot()
    shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    b, g, r = (shot[..., i].astype(int) for i in range(3))
    ys, xs = np.nonzero((b > 200) & (g > 200) & (r < 90))
    natural = page.evaluate("() => { const i = document.getElementById('rp-img');"
                            " return [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]; }")
    sx, sy = natural[2] / natural[0], natural[3] / natural[1]
    return np.stack([xs / sx, ys / sy], axis=1), sx, sy


def test_the_commander_replays_the_alert_with_its_box_on_the_right_frame(browser: Any, server: Server,
                                                                        artifacts: Path) -> None:
    page = sign_in(browser, server, COMMANDER)
    in_flight = {"now": 0, "most": 0}

    def started(req: Any) -> None:
        if "/api/replay/frame?" in req.url:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])

    def ended(req: Any) -> None:
        if "/api/replay/frame?" in req.url:
            in_flight["now"] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    assert page.is_visible("#nav-replay")
    [alert] = [a for a in get(page, server, "/api/alerts", limit="500")["items"] if a["subject_id"].startswith("gate/")]
    opened = datetime.fromisoformat(alert["opened_at"])
    page.click("#nav-replay")
    page.wait_for_selector("#replay-panel:not([hidden])")
    # Choose the alert from the list: its camera and window, at its opening.
    page.click(f"#rp-alerts .rp-alert[data-alert-id='{alert['id']}']")
    page.wait_for_function(f"() => ({FRAME_TIME})() !== ''", timeout=15_000)
    assert page.input_value("#rp-camera") == "gate"
    start = datetime.fromisoformat(page.input_value("#rp-from") + "+00:00")
    assert start == (opened - timedelta(seconds=10)).replace(microsecond=0)
    # Seek to its opening with its marker on the timeline (the same frame as choosing it showed).
    page.click(f"#rp-marks .rp-mark[data-alert-id='{alert['id']}']")
    at = shown(page)
    assert timedelta(0) <= opened - at < PERIOD, (opened, at)
    [frame_answer] = [r for r in page.responses if "/api/replay/frame?" in r.url][-1:]
    assert frame_answer.status == 200 and datetime.fromisoformat(frame_answer.headers["x-frame-time"]) == at
    # The box is drawn on that frame: the box colour lies within that frame's stored boxes, and nowhere else.
    around = {"from": (opened - timedelta(seconds=3)).isoformat(), "to": (opened + timedelta(seconds=3)).isoformat()}
    frames = get(page, server, "/api/replay/boxes", camera="gate", **around)
    times = [datetime.fromisoformat(f["time"]) for f in frames["frames"]]
    [boxes] = [f["boxes"] for f in frames["frames"] if datetime.fromisoformat(f["time"]) == at]
    assert boxes
    page.wait_for_timeout(200)  # the canvas is drawn once the image is decoded
    pixels, sx, sy = box_pixels(page)
    assert len(pixels) > 40, len(pixels)
    tol_x, tol_y = 3 / sx, 3 / sy  # the 2 px line, in image pixels
    inside = np.zeros(len(pixels), bool)
    for b in boxes:
        inside |= ((pixels[:, 0] >= b["x1"] - tol_x) & (pixels[:, 0] <= b["x2"] + tol_x)
                   & (pixels[:, 1] >= b["y1"] - tol_y) & (pixels[:, 1] <= b["y2"] + tol_y))
    assert inside.all(), pixels[~inside][:10]
    # ... and on the box's outline: the drawn pixels reach both sides of the stored box.
    b = boxes[0]
    assert pixels[:, 0].min() <= b["x1"] + tol_x and pixels[:, 0].max() >= b["x2"] - tol_x
    page.screenshot(path=str(artifacts / "replay.png"))
    # The subject's stored position at that time is on the map.
    assert page.locator(f".rp-subject[data-subject-id='{alert['subject_id']}']").count() == 1
    # Boxes off: no box colour left.
    page.uncheck("#rp-boxes")
    assert len(box_pixels(page)[0]) == 0
    page.check("#rp-boxes")
    # One frame forward: the next recorded frame time.
    page.click("#rp-forward")
    following = times[times.index(at) + 1]
    page.wait_for_function(f"() => ({FRAME_TIME})() !== {at.isoformat()!r}")
    assert shown(page) == following
    # Play at 8x: the time advances (a second of recording is shown in well under a second of play).
    page.select_option("#rp-speed", "8")
    page.click("#rp-play")
    later = (following + timedelta(seconds=2)).timestamp() * 1000
    page.wait_for_function(f"() => Date.parse(({FRAME_TIME})()) >= {later}", timeout=15_000)
    page.click("#rp-play")
    assert shown(page) >= following + timedelta(seconds=2)
    assert in_flight["most"] == 1, in_flight
    # Back to the previous alert: its opening again.
    page.click("#rp-prev-alert")
    page.wait_for_function(f"() => Date.parse(({FRAME_TIME})()) <= {opened.timestamp() * 1000}")
    assert timedelta(0) <= opened - shown(page) < PERIOD
    assert page.js_errors == []


def test_the_player_fits_a_phone(browser: Any, server: Server, artifacts: Path) -> None:
    page = sign_in(browser, server, COMMANDER, **PHONE)
    page.goto(server.base + "/#/replay")  # the newest camera alert is chosen by default
    page.wait_for_function(f"() => ({FRAME_TIME})() !== ''", timeout=15_000)
    width = page.evaluate("() => document.documentElement.clientWidth")
    for control in ("#rp-view", "#rp-slider", "#rp-play", "#rp-forward", "#rp-next-alert", "#rp-speed"):
        box = page.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (control, box)
    page.screenshot(path=str(artifacts / "replay-phone.png"))
    assert page.js_errors == []


def test_a_field_user_gets_no_replay(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "fieldy")
    assert page.is_hidden("#nav-replay")
    page.goto(server.base + "/#/replay")
    page.wait_for_selector("#forbidden-panel:not([hidden])")
    assert page.inner_text("#forbidden-text") == "Replay is for commanders and admins."
    assert page.is_hidden("#replay-panel")
    assert page.request.get(server.base + "/api/replay/frame?camera=gate&t=2026-05-01T03:00:05Z").status == 403
