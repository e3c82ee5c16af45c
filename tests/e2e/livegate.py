"""The gate scene served as a live HTTP MJPEG camera to `routewatch run`, with recording on.

`run_gate_stream` builds the settings (one live camera, a store, a recordings directory), saves the
gate line and runs `run_live` until the server has sent `sent` JPEGs and an alert is stored, then
`linger_s` more (so a copy or writer thread can finish), and returns the run's summary.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from shapely.geometry import LineString

from routewatch.app.analyze import Summary
from routewatch.app.live import run_live
from routewatch.config.schema import Settings
from routewatch.model import Corridor, CorridorKind
from routewatch.store import Store
from tests.kits.mjpeg import MjpegServer

from .test_run_cameras import camera as live_camera
from .test_vision_fixed import FRAME, T0


def run_gate_stream(server: MjpegServer, store: Store, db_url: str, tmp_path: Path, *, root: Path, sent: int,
                    recording: dict[str, Any], linger_s: float = 0.0, **camera: Any) -> Summary:
    """Run live on `server`'s stream, recording into `root`, until `sent` JPEGs went out and an alert is stored."""
    line = Corridor("gate-line", FRAME.to_lonlat(LineString([(0, 30), (100, 30)])), kind=CorridorKind.LINE)
    settings = Settings.model_validate({
        "cameras": [live_camera(server.url, 5.0, recording={"enabled": True, **recording}, **camera)],
        "store": {"url": db_url, "flush_s": 0.2, "journal_dir": str(tmp_path / "journal")},
        "recording": {"dir": str(root), "min_free_bytes": 0, "resume_free_bytes": 0},
    })
    store.upgrade()
    saved = store.corridors.save([line], author="test", comment="", at=T0 - timedelta(days=1))

    async def go() -> Summary:
        stop = asyncio.Event()
        task = asyncio.create_task(run_live(settings, store, saved, stop=stop))
        while server.sent < sent or not store.alerts.find():
            await asyncio.sleep(0.1)
        await asyncio.sleep(linger_s)
        stop.set()
        return await task

    return asyncio.run(go())
