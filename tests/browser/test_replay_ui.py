"""The replay page in Chromium over a recorded synthetic run (the gate scene analysed with recording on, see
tests/e2e/recorded.py) in the database `routewatch run` serves, with `recording.dir` pointing at its segments.

The commander chooses the walker's alert: the frame at its opening is shown with its box drawn over it
(checked on a screenshot), frame steps follow the recorded frame times, and 8x play advances the time with one
frame request in flight at a time. A field user gets no link and a refusal. With the frame times and boxes in
parts (as a long window of a fast camera comes), play, steps and jumps run over the parts' joins.

A drone sortie over the gate (fixes, its camera's footprints and a corridor changed mid-run, stored through the
store API): chosen from the list, the map shows the drone and the footprint where they were at the time shown
(checked on a screenshot and in the rendered layers) and the corridor version in force then.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import cv2
import numpy as np
import pytest
from shapely.geometry import box

from routewatch.geo.footprint import Footprint
from routewatch.model import Corridor, Observation, Role
from routewatch.store import Store
from tests.browser.conftest import COMMANDER, DEMO_FILE_WINS, Server, run_server, sign_in
from tests.e2e.recorded import record_gate_run

PERIOD = timedelta(seconds=0.2)  # the recorded run is 5 fps
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
FRAME_TIME = "() => document.getElementById('rp-img').dataset.frameTime || ''"
DRAWN = "() => window.routewatchReplay.drawn()"
# The drone sortie added over the recorded run (03:00:00 - 03:00:24.8): a fix every 0.5 s flying east north of
# the gate, its camera's footprint sampled every 2 s 55 m north of it, and a zone redrawn at 03:00:12.
T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
DRONE, DRONE_CAM, ZONE = "uav/7", "uavcam", "rp-zone"
ZONE_CHANGED = T0 + timedelta(seconds=12)
ZONE_V1, ZONE_V2 = box(23.4990, 17.1990, 23.4995, 17.1995), box(23.5005, 17.1990, 23.5012, 17.1996)


def drone_at(s: float) -> tuple[float, float]:
    return 23.4995 + s * 1e-4, 17.2010


def footprint_at(s: float) -> Any:
    lon, lat = drone_at(s)
    return box(lon - 0.0002, lat + 0.0003, lon + 0.0002, lat + 0.0007)


def add_sortie(db: str) -> None:
    """The drone's fixes and camera footprints, and the zone's two versions, written as the pipeline would."""
    with Store(db) as store:
        fixes = [Observation(DRONE, T0 + timedelta(seconds=i / 2), *drone_at(i / 2), alt_m=80.0, subject_class="drone",
                             role=Role.PATROL, source="radio") for i in range(50)]
        store.batches.write([], fixes)
        store.coverage.put_footprints([Footprint(DRONE_CAM, T0 + timedelta(seconds=s), T0 + timedelta(seconds=s + 2),
                                        footprint_at(s), "drone") for s in range(0, 25, 2)])
        store.corridors.save([Corridor(ZONE, ZONE_V1, name="zone")], author="p", comment="v1",
                             at=T0 - timedelta(hours=1), replace=False)
        store.corridors.save([Corridor(ZONE, ZONE_V2, name="zone")], author="p", comment="v2", at=ZONE_CHANGED,
                             replace=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: Path) -> Iterator[Server]:
    """`run` over a database and a recordings directory already holding the recorded gate run."""
    tmp = tmp_path_factory.mktemp("replay-ui")
    db = f"sqlite:///{tmp / 'rw.db'}"  # the database run_server uses
    run = record_gate_run(tmp, db)
    add_sortie(db)
    recording = {"dir": str(run.root), "min_free_bytes": 0, "resume_free_bytes": 0}
    with run_server(tmp, ui_built, config={"recording": recording, "corridors": DEMO_FILE_WINS}) as s:
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
    # `analyze` saved the gate line when it ran, long after the footage: not in force then, so it is drawn
    # as the version the alert was raised against, and the page says why.
    page.wait_for_function(f"() => ({DRAWN})().raised !== null")
    assert page.evaluate(DRAWN)["raised"] == [{"id": alert["corridor_id"], "version": alert["corridor_version"]}]
    page.wait_for_function("(id) => window.routewatchMap.queryRenderedFeatures({layers: ['rp-corridor-line']})"
                           ".some((f) => f.properties.id === id && f.properties.raised)", arg=alert["corridor_id"])
    note = page.text_content("#rp-corridor-note") or ""
    assert f"{alert['corridor_id']} v{alert['corridor_version']}" in note and "raised against" in note
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


def query(url: str, name: str) -> str:
    return parse_qs(urlsplit(url).query)[name][0]


def test_frames_come_in_parts_that_play_step_and_jump_over_their_joins(browser: Any, server: Server) -> None:
    """Parts of 20 frames (4 s of the 5 fps run), as the server's cap cuts a long window of a fast camera."""
    page = sign_in(browser, server, COMMANDER)
    page.goto(server.base + "/#/replay")
    page.wait_for_selector("#replay-panel:not([hidden])")
    page.evaluate("() => window.routewatchReplay.partFrames(20)")
    end = T0 + timedelta(seconds=26)
    every = get(page, server, "/api/replay/boxes", camera="gate", **{"from": T0.isoformat(), "to": end.isoformat()})
    times = [datetime.fromisoformat(f["time"]) for f in every["frames"]]
    assert not every["truncated"] and len(times) in (125, 126) and times[0] == T0
    page.fill("#rp-camera", "gate")
    page.fill("#rp-from", T0.isoformat()[:19])
    page.fill("#rp-to", end.isoformat()[:19])
    before = len(page.responses)
    page.click("#rp-load")
    page.wait_for_function(f"() => ({FRAME_TIME})() === {T0.isoformat()!r}", timeout=15_000)
    assert page.inner_text("#rp-count").startswith("20+ (more as it plays) frames")
    # Play at 8x over two joins: every recorded frame in turn, none skipped at a join.
    page.select_option("#rp-speed", "8")
    playing = len(page.responses)
    page.click("#rp-play")
    page.wait_for_function(f"() => Date.parse(({FRAME_TIME})()) >= {(T0 + timedelta(seconds=10)).timestamp() * 1000}",
                           timeout=30_000)
    page.click("#rp-play")
    asked = [datetime.fromisoformat(query(r.url, "t")) for r in page.responses[playing:]
             if "/api/replay/frame?" in r.url]
    assert len(asked) >= 50 and asked == times[1:len(asked) + 1]
    # The parts: 20 frames each, each asked from where the one before said the rest begins.
    parts = [r for r in page.responses[before:] if "/api/replay/boxes?" in r.url and "limit=20" in r.url]
    answers = [r.json() for r in parts]
    assert len(parts) >= 3 and all(len(a["frames"]) == 20 and a["truncated"] for a in answers[:3])
    assert [query(r.url, "from") for r in parts[1:3]] == [a["next"] for a in answers[:2]]
    # Steps from the start: forward over the join at frame 20, then back over it (the part before asked again).
    page.evaluate("""() => { const s = document.getElementById('rp-slider');
        s.value = '0'; s.dispatchEvent(new Event('input')); }""")
    page.wait_for_function(f"() => ({FRAME_TIME})() === {T0.isoformat()!r}")
    for k in [*range(1, 26), *range(24, 14, -1)]:
        page.click("#rp-forward" if k > shown_index(page, times) else "#rp-back")
        page.wait_for_function(f"() => ({FRAME_TIME})() === {times[k].isoformat()!r}")
    # A jump far ahead: the part around it comes, and the frame's own boxes are drawn on it.
    boxed = [i for i, f in enumerate(every["frames"]) if f["boxes"] and i >= 40]
    assert boxed, "the walker is in view late in the run"
    target = times[boxed[-1]]
    seek_to(page, target)
    page.wait_for_function(f"() => ({FRAME_TIME})() === {target.isoformat()!r}")
    page.wait_for_timeout(300)  # the part with its boxes, then the canvas
    pixels, sx, sy = box_pixels(page)
    assert len(pixels) > 40, len(pixels)
    boxes = every["frames"][boxed[-1]]["boxes"]
    assert pixels[:, 0].min() >= min(b["x1"] for b in boxes) - 3 / sx
    assert pixels[:, 0].max() <= max(b["x2"] for b in boxes) + 3 / sx
    assert pixels[:, 1].min() >= min(b["y1"] for b in boxes) - 3 / sy
    assert pixels[:, 1].max() <= max(b["y2"] for b in boxes) + 3 / sy
    assert page.js_errors == []


def shown_index(page: Any, times: list[datetime]) -> int:
    return times.index(shown(page))


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


def seek_to(page: Any, at: datetime) -> None:
    """Move the timeline's slider to `at` (as a drag would)."""
    page.evaluate("""(ms) => { const s = document.getElementById('rp-slider');
        s.value = String(ms); s.dispatchEvent(new Event('input')); }""",
                  round((at - datetime.fromisoformat(page.input_value("#rp-from") + "+00:00")).total_seconds() * 1000))


def rendered(page: Any, layer: str) -> list[dict[str, Any]]:
    return page.evaluate("(l) => window.routewatchMap.queryRenderedFeatures({layers: [l]}).map((f) => f.properties)",
                         layer)


def on_screen(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where (lon, lat) is in the page (CSS pixels)."""
    point = page.evaluate("(c) => window.routewatchMap.project(c)", [lon, lat])
    m = page.locator("#map").bounding_box()
    return m["x"] + point["x"], m["y"] + point["y"]


def map_colour(page: Any, lon: float, lat: float) -> tuple[int, int, int]:
    """The map's (r, g, b) at (lon, lat), from a screenshot."""
    shot = cv2.imdecode(np.frombuffer(page.locator("#map").screenshot(), np.uint8), cv2.IMREAD_COLOR)
    point = page.evaluate("(c) => window.routewatchMap.project(c)", [lon, lat])
    b, g, r = shot[round(point["y"]), round(point["x"])]
    return int(r), int(g), int(b)


def test_a_sortie_moves_the_drone_its_footprint_and_the_corridors_with_the_time(browser: Any, server: Server,
                                                                             artifacts: Path) -> None:
    page = sign_in(browser, server, COMMANDER)
    page.goto(server.base + "/#/replay")
    page.wait_for_selector("#replay-panel:not([hidden])")
    # The recorded cameras are offered with their extents (not guessed from alerts).
    page.wait_for_function("() => document.querySelectorAll('#rp-cameras option').length > 0")
    assert page.get_attribute("#rp-cameras option[value='gate']", "label").startswith("gate: 2026-05-01 03:00:00 UTC")
    # The sorties in the recorded window: the drone's, followed by its camera.
    page.fill("#rp-from", "2026-05-01T03:00:00")
    page.fill("#rp-to", "2026-05-01T03:00:25")
    page.click("#rp-find-sorties")
    row = page.locator(f"#rp-sorties .rp-sortie[data-drone='{DRONE}']")
    row.wait_for(timeout=15_000)
    assert "50 fixes" in row.inner_text() and f"camera {DRONE_CAM}" in row.inner_text()
    before = len(page.responses)  # (opening the page loaded the newest alert's window)
    row.click()
    # (The window opened first drew the gate's footprint: wait for the sortie's window to be drawn.)
    page.wait_for_function(f"() => ({DRAWN})().camera === {DRONE_CAM!r} && ({DRAWN})().footprint !== null",
                           timeout=15_000)
    assert page.input_value("#rp-camera") == DRONE_CAM
    chosen = [datetime.fromisoformat(page.input_value(i) + "+00:00") for i in ("#rp-from", "#rp-to")]
    assert chosen == [T0, T0 + timedelta(seconds=25)]  # whole seconds around its fixes (0 - 24.5 s)
    assert "the map alone" in page.inner_text("#rp-status")  # nothing of the drone's camera was recorded
    # At 5.2 s: the drone at its fix of 5.0 s, the footprint sampled at 4 s, the zone's first version.
    at = T0 + timedelta(seconds=5.2)
    seek_to(page, at)
    page.wait_for_function(f"() => ({DRAWN})().footprint?.start === {(T0 + timedelta(seconds=4)).isoformat()!r}")
    page.wait_for_function(f"() => ({DRAWN})().corridors !== null")
    drawn = page.evaluate(DRAWN)
    assert drawn["t"] == at.isoformat().replace("+00:00", "Z").replace(".200000", ".200")
    four, six = (T0 + timedelta(seconds=4)).isoformat(), (T0 + timedelta(seconds=6)).isoformat()
    assert drawn["footprint"] == {"camera": DRONE_CAM, "kind": "drone", "start": four, "end": six}
    assert drawn["corridors"] == [{"id": ZONE, "version": 1}] and DRONE in drawn["paths"]
    page.wait_for_timeout(300)  # the map renders the new data
    marker = page.locator(f".rp-drone[data-subject-id='{DRONE}']").bounding_box()
    x, y = on_screen(page, *drone_at(5.0))
    assert abs(marker["x"] + marker["width"] / 2 - x) <= 2 and abs(marker["y"] + marker["height"] / 2 - y) <= 2
    assert {p["start"] for p in rendered(page, "rp-footprint-fill")} == {four}  # (once per tile it spans)
    assert {p["version"] for p in rendered(page, "rp-corridor-fill")} == {1}
    centre = footprint_at(4).centroid
    r, g, b = map_colour(page, centre.x, centre.y)
    assert r > 200 and b > 180 and g < r - 40, (r, g, b)  # the footprint's magenta over the background
    old = footprint_at(0).centroid  # the first sample (0-2 s) is no longer drawn there
    assert not footprint_at(4).contains(old)
    r, g, b = map_colour(page, old.x, old.y)
    assert g > r - 40, (r, g, b)
    page.screenshot(path=str(artifacts / "replay-sortie.png"))
    # Past the zone's change: its second version, and the drone and footprint moved on.
    seek_to(page, T0 + timedelta(seconds=15.1))
    page.wait_for_function(f"() => ({DRAWN})().corridors?.[0]?.version === 2")
    page.wait_for_function(f"() => ({DRAWN})().footprint?.start === {(T0 + timedelta(seconds=14)).isoformat()!r}")
    page.wait_for_timeout(300)
    assert {p["version"] for p in rendered(page, "rp-corridor-fill")} == {2}
    marker = page.locator(f".rp-drone[data-subject-id='{DRONE}']").bounding_box()
    x, y = on_screen(page, *drone_at(15.0))
    assert abs(marker["x"] + marker["width"] / 2 - x) <= 2 and abs(marker["y"] + marker["height"] / 2 - y) <= 2
    # Back before the change: the first version again, from what was already fetched (no new request).
    seek_to(page, T0 + timedelta(seconds=3))
    page.wait_for_function(f"() => ({DRAWN})().corridors?.[0]?.version === 1")
    asked = [r.url for r in page.responses[before:] if "/api/replay/corridors?" in r.url]
    assert len(asked) == 2, asked  # at the start (v1 holds until 12 s), and past 12 s (v2 from then on)
    # The recorded camera over the same window: the video and the map together (its fixed footprint, the drone).
    page.fill("#rp-camera", "gate")
    page.click("#rp-load")
    page.wait_for_function(f"() => ({FRAME_TIME})() !== '' && ({DRAWN})().footprint?.camera === 'gate'",
                           timeout=15_000)
    assert page.locator(f".rp-drone[data-subject-id='{DRONE}']").count() == 1
    # An area: the map's view keeps the sortie; a view elsewhere finds none.
    page.click("#rp-use-view")
    assert page.inner_text("#rp-area").startswith("area 23.")
    page.click("#rp-find-sorties")
    page.locator(f"#rp-sorties .rp-sortie[data-drone='{DRONE}']").wait_for()
    page.evaluate("() => window.routewatchMap.jumpTo({center: [10, 50], zoom: 14})")
    page.click("#rp-use-view")
    page.click("#rp-find-sorties")
    page.wait_for_selector("#rp-sorties li.muted:has-text('No drone sorties in this window and area')")
    page.click("#rp-clear-area")
    assert page.inner_text("#rp-area") == "any area"
    assert page.js_errors == []
