"""Export from the Replay page in Chromium, over the recorded synthetic run (see tests/e2e/recorded.py).

The commander chooses the walker's alert, exports it (boxes burned in), follows the job to its end and
downloads the zip (Playwright's download event): it holds the clip, which decodes with the job's frame
count, the tracks and the report naming the alert. The window being replayed exports likewise, without boxes.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import COMMANDER, DEMO_FILE_WINS, Server, run_server, sign_in
from tests.e2e.recorded import record_gate_run
from tests.e2e.test_recording import decode

FRAME_TIME = "() => document.getElementById('rp-img').dataset.frameTime || ''"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: Path) -> Iterator[Server]:
    """`run` over a database and a recordings directory already holding the recorded gate run."""
    tmp = tmp_path_factory.mktemp("export-ui")
    db = f"sqlite:///{tmp / 'rw.db'}"  # the database run_server uses
    run = record_gate_run(tmp, db)
    recording = {"dir": str(run.root), "min_free_bytes": 0, "resume_free_bytes": 0}
    with run_server(tmp, ui_built, config={"recording": recording, "corridors": DEMO_FILE_WINS}) as s:
        yield s


def magenta(image: np.ndarray) -> int:
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((b > 180) & (r > 180) & (g < 90)))


def download(page: Any, tmp_path: Path, button: str) -> tuple[Path, dict[str, Any]]:
    """Click an export button, wait for the link, download the zip; return it and the job's last answer."""
    page.click(button)
    link = page.locator("#rp-export-download")
    link.wait_for(state="visible", timeout=120_000)
    [job_answer] = [r for r in page.responses if "/api/replay/exports/" in r.url
                    and not r.url.endswith("/download")][-1:]
    job = job_answer.json()
    with page.expect_download() as info:
        link.click()
    zip_path = tmp_path / info.value.suggested_filename
    info.value.save_as(zip_path)
    return zip_path, job


def test_the_commander_exports_the_alert_and_the_window(browser: Any, server: Server, tmp_path: Path,
                                                        artifacts: Path) -> None:
    page = sign_in(browser, server, COMMANDER)
    r = page.request.get(server.base + "/api/alerts?limit=500")
    [alert] = [a for a in r.json()["items"] if a["subject_id"].startswith("gate/")]
    page.click("#nav-replay")
    page.wait_for_selector("#replay-panel:not([hidden])")
    page.click(f"#rp-alerts .rp-alert[data-alert-id='{alert['id']}']")
    page.wait_for_function(f"() => ({FRAME_TIME})() !== ''", timeout=15_000)
    assert page.is_checked("#rp-export-boxes")

    # The alert, boxes burned in.
    zip_path, job = download(page, tmp_path, "#rp-export-alert")
    assert job["state"] == "done" and job["kind"] == "alert", job
    assert zip_path.name == f"routewatch-alert-{alert['id']}.zip"
    assert page.inner_text("#rp-export-status").startswith("Export ready:")
    assert page.is_hidden("#rp-export-progress")
    stem = f"alert-{alert['id']}"
    with zipfile.ZipFile(zip_path) as z:
        assert sorted(z.namelist()) == sorted(stem + ext for ext in (".geojson", ".html", ".kml", ".mp4"))
        (tmp_path / "alert.mp4").write_bytes(z.read(f"{stem}.mp4"))
        report = z.read(f"{stem}.html").decode()
        geo = json.loads(z.read(f"{stem}.geojson"))
    images = decode(tmp_path / "alert.mp4")
    assert len(images) == job["frames_total"] == job["frames_done"] > 0
    assert max(magenta(img) for img in images) > 100
    assert alert["id"] in report and "<svg" in report
    assert {f["properties"]["subject_id"] for f in geo["features"]} == {alert["subject_id"]}

    # The window being replayed, without boxes.
    page.uncheck("#rp-export-boxes")
    zip_path, job = download(page, tmp_path, "#rp-export-window")
    assert job["state"] == "done" and job["kind"] == "range", job
    assert zip_path.name.startswith("routewatch-range-gate-") and zip_path.suffix == ".zip"
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        [clip] = [n for n in names if n.endswith(".mp4")]
        assert sorted(Path(n).suffix for n in names) == [".geojson", ".html", ".kml", ".mp4"]
        (tmp_path / "window.mp4").write_bytes(z.read(clip))
        report = z.read(clip.replace(".mp4", ".html")).decode()
    images = decode(tmp_path / "window.mp4")
    assert len(images) == job["frames_total"] > 0 and max(magenta(img) for img in images) < 20
    assert alert["id"] in report
    page.screenshot(path=str(artifacts / "export.png"))
    assert page.js_errors == []
