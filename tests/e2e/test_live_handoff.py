"""Live MAVLink over real UDP while the loop waits on the database: nothing is lost uncounted.

Part of the real flight is sent, one tlog record per datagram, while another connection holds the
SQLite write lock, so the loop's commit waits and nothing takes from the hand-off queue. The queue
is made small (4 batches: 0.2 s of a link) so a short wait stands for a long one on a busy disk;
with 256 batches the same happened after 12.8 s (issue 12, item 7: a 12.6 s hole).
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from pymavlink import mavutil

from routewatch.app import live
from routewatch.app.analyze import Summary
from routewatch.app.live import run_live
from routewatch.config.schema import Settings
from routewatch.config.sources import SourceConfig
from routewatch.config.store import StoreConfig
from routewatch.store import open_store
from tests.conftest import free_port


def _records(tlog: Path, start_s: float, length_s: float) -> tuple[list[bytes], int]:
    """The packets of the log's records between start_s and start_s + length_s, as recorded, and
    how many of them are GLOBAL_POSITION_INT."""
    m = mavutil.mavlink_connection(str(tlog))
    out: list[bytes] = []
    positions = 0
    t0 = None
    while (msg := m.recv_msg()) is not None:
        t0 = msg._timestamp if t0 is None else t0
        if start_s <= msg._timestamp - t0 < start_s + length_s:
            out.append(bytes(msg.get_msgbuf()))
            positions += msg.get_type() == "GLOBAL_POSITION_INT"
    return out, positions


def _bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_a_slow_commit_loses_no_live_fix(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packets, want = _records(shared_data / "mavlink" / "dronekit_flight_replay_flight.tlog", 120.0, 20.0)
    assert len(packets) > 1000 and want > 40
    monkeypatch.setattr(live, "QUEUE_BATCHES", 4)
    db = tmp_path / "live.db"
    url = f"sqlite:///{db}"
    store = open_store(url)
    port = free_port(socket.SOCK_DGRAM)
    settings = Settings(sources=[SourceConfig(name="radio", url=f"udpin:127.0.0.1:{port}")],
                        store=StoreConfig(url=url, flush_s=0.1, journal_dir=tmp_path / "journal"))

    async def main() -> Summary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def drive() -> None:
            while not _bound(port):
                time.sleep(0.05)
            lock = sqlite3.connect(db, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")  # the loop's next commit waits (busy_timeout) until we let go
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for i, p in enumerate(packets):  # ~2 s: some 40 of the link's 50 ms batches
                    tx.sendto(p, ("127.0.0.1", port))
                    if i % 20 == 19:
                        time.sleep(0.03)
            time.sleep(0.5)
            lock.execute("COMMIT")
            lock.close()
            seen, still = -1, 0
            while still < 10:  # until all are stored, or the count has not moved for 10 polls
                n = store.positions.count()
                still, seen = (still + 1 if n == seen else 0), n
                if n >= want:
                    break
                time.sleep(0.1)
            loop.call_soon_threadsafe(stop.set)

        sender = threading.Thread(target=drive, daemon=True)
        sender.start()
        got = await run_live(settings, store, [], stop=stop)
        sender.join()
        return got

    summary = asyncio.run(main())
    stored = store.positions.count()
    store.close()
    link = summary.links["radio"]
    assert link["kernel_drops"] == 0
    assert summary.ingest["dropped_behind"] == 0
    assert summary.positions == want and stored == want
