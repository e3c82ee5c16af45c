"""The live runner under faults: the database refusing writes for a while, and a stop mid-stream."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from routewatch.app.analyze import analyze, install_corridors
from routewatch.app.demo.scenario import corridors_path, write_tlog
from routewatch.app.live import run_live
from routewatch.config.schema import Settings
from routewatch.config.sources import SourceConfig
from routewatch.config.store import StoreConfig
from routewatch.store import open_store


def _outage(url: str, start_s: float, length_s: float) -> threading.Thread:
    """Rename the positions and alerts tables away for a while: every write fails, for real."""
    def go() -> None:
        eng = create_engine(url)
        time.sleep(start_s)
        with eng.begin() as c:
            c.execute(text("ALTER TABLE positions RENAME TO positions_away"))
            c.execute(text("ALTER TABLE alerts RENAME TO alerts_away"))
        time.sleep(length_s)
        with eng.begin() as c:
            c.execute(text("ALTER TABLE positions_away RENAME TO positions"))
            c.execute(text("ALTER TABLE alerts_away RENAME TO alerts"))
        eng.dispose()
    th = threading.Thread(target=go, daemon=True)
    th.start()
    return th


def test_database_outage_loses_nothing(db_url, tmp_path):
    tlog = write_tlog(tmp_path / "patrol.tlog")
    # The reference: the same log analysed with no fault.
    ref_url = f"sqlite:///{tmp_path / 'ref.db'}"
    ref = open_store(ref_url)
    now = datetime.now(UTC)
    analyze([tlog], Settings(), ref, install_corridors(ref, corridors_path(), author="t", comment="", at=now))
    want = [(a.id, a.state, a.closed_at) for a in ref.alerts.find()]
    ref.close()

    store = open_store(db_url)
    corridors = install_corridors(store, corridors_path(), author="t", comment="", at=datetime.now(UTC))
    settings = Settings(sources=[SourceConfig(name="patrol", url=f"file:{tlog}", realtime=True, speed=300)],
                        store=StoreConfig(url=db_url, flush_s=0.1, journal_dir=tmp_path / "journal"))
    outage = _outage(db_url, 0.3, 1.0)
    summary = asyncio.run(run_live(settings, store, corridors, stop=asyncio.Event(), exit_when_files_done=True))
    outage.join()
    got = [(a.id, a.state, a.closed_at) for a in store.alerts.find()]
    positions = store.positions.count()
    store.close()
    assert summary.ingest["store_errors"] >= 1  # the outage really hit writes
    assert positions == 2484 and summary.positions == 2484
    assert got == want
