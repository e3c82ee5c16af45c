"""Live MAVLink links over real sockets and a pty, fed with packets written by pymavlink."""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from routewatch.config.sources import SourceConfig
from routewatch.ingest.mavlink import MavlinkError, MavlinkLink, TlogWriter
from routewatch.model import LinkStatus, Observation, TelemetryEvent

FIXED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIT_S = 10.0  # a guard against hanging, not a timing assertion


def cfg(url: str) -> SourceConfig:
    return SourceConfig(name="uav", url=url, link_timeout_s=0.5, reconnect_s=0.05, reconnect_max_s=0.2)


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """The emit callback: events from the link thread, read back with a deadline."""

    def __init__(self) -> None:
        self.q: queue.Queue[TelemetryEvent] = queue.Queue()
        self.events: list[TelemetryEvent] = []

    def __call__(self, ev: TelemetryEvent) -> None:
        self.q.put(ev)

    def until(self, done: Callable[[list[TelemetryEvent]], bool],
              poke: Callable[[], object] | None = None) -> list[TelemetryEvent]:
        deadline = time.monotonic() + WAIT_S
        while not done(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting; got {self.events}")
            if poke is not None:
                poke()
            with suppress(queue.Empty):
                self.events.append(self.q.get(timeout=0.05))
        return self.events

    def observations(self) -> list[Observation]:
        return [e for e in self.events if isinstance(e, Observation)]

    def statuses(self) -> list[tuple[bool, str]]:
        return [(e.up, e.detail) for e in self.events if isinstance(e, LinkStatus)]


def n_obs(n: int) -> Callable[[list[TelemetryEvent]], bool]:
    return lambda evs: sum(isinstance(e, Observation) for e in evs) >= n


def link_is(up: bool, count: int = 1) -> Callable[[list[TelemetryEvent]], bool]:
    return lambda evs: sum(isinstance(e, LinkStatus) and e.up == up for e in evs) >= count


@contextmanager
def running(link: MavlinkLink) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = link.start(stop)
    try:
        yield stop
    finally:
        stop.set()
        thread.join(WAIT_S)
        assert not thread.is_alive(), "link thread ignored stop"


def two_vehicles(n: int) -> TlogWriter:
    w = TlogWriter(True)
    w.heartbeat(FIXED, 1)
    w.heartbeat(FIXED, 2)
    for i in range(n):
        t = FIXED + timedelta(seconds=i)
        w.global_position_int(t, 1, -35.1 + i * 1e-4, 149.1, 100.0 + i)
        w.global_position_int(t, 2, -35.2, 149.2 + i * 1e-4, 200.0 + i)
    return w


def test_udpin_two_vehicles_then_silence() -> None:
    port = free_port(socket.SOCK_DGRAM)
    got = Collector()
    link = MavlinkLink(cfg(f"udpin:127.0.0.1:{port}"), got, clock=lambda: FIXED)
    packets = [p for _, p in two_vehicles(20).packets()]
    with running(link), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        addr = ("127.0.0.1", port)
        got.until(link_is(True), poke=lambda: tx.sendto(packets[0], addr))  # until the link listens
        tx.sendto(packets[1], addr)
        for i in range(2, len(packets), 2):  # two packets per datagram
            tx.sendto(packets[i] + packets[i + 1], addr)
        got.until(n_obs(40))
        got.until(link_is(False))
    assert got.statuses() == [(True, f"receiving from udpin:127.0.0.1:{port}"), (False, "no MAVLink for 0.5 s")]
    by_vehicle = {sid: [o for o in got.observations() if o.subject_id == sid] for sid in ("uav/1", "uav/2")}
    assert [o.alt_m for o in by_vehicle["uav/1"]] == [100.0 + i for i in range(20)]
    assert [o.alt_m for o in by_vehicle["uav/2"]] == [200.0 + i for i in range(20)]
    assert by_vehicle["uav/2"][-1].lon == pytest.approx(149.2019)
    assert all(e.time == FIXED for e in got.events)
    assert link.stats.decoded >= 42 and link.stats.corrupt == 0


def test_tcp_reconnects_after_the_peer_closes() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    w = two_vehicles(10)
    first, second = TlogWriter(), TlogWriter()
    for t, p in w.packets()[:12]:
        first.raw(t, p)
    for t, p in w.packets()[12:]:
        second.raw(t, p)
    done = threading.Event()

    def serve() -> None:
        for i, batch in enumerate((first.stream_bytes(), second.stream_bytes())):
            conn, _ = server.accept()
            with conn:
                for k in range(0, len(batch), 7):  # packets split across reads
                    conn.sendall(batch[k:k + 7])
                if i == 1:
                    done.wait(WAIT_S)

    peer = threading.Thread(target=serve, daemon=True)
    peer.start()
    got = Collector()
    link = MavlinkLink(cfg(f"tcp:127.0.0.1:{port}"), got, clock=lambda: FIXED)
    try:
        with running(link):
            got.until(n_obs(20))
            got.until(link_is(True, 2))
    finally:
        done.set()
        peer.join(WAIT_S)
        server.close()
    ups_and_downs = [up for up, _ in got.statuses()]
    assert ups_and_downs[:3] == [True, False, True]
    assert got.statuses()[1][1].startswith("connection lost")
    assert sorted(o.alt_m for o in got.observations() if o.subject_id == "uav/1") == [100.0 + i for i in range(10)]
    assert link.stats.connects >= 2 and link.stats.drops >= 1


def test_udpout_sends_heartbeats_so_the_vehicle_answers() -> None:
    got = Collector()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as vehicle:
        vehicle.bind(("127.0.0.1", 0))
        vehicle.settimeout(WAIT_S)
        link = MavlinkLink(cfg(f"udpout:127.0.0.1:{vehicle.getsockname()[1]}"), got, clock=lambda: FIXED)
        with running(link):
            hb, gcs = vehicle.recvfrom(2048)
            vehicle.sendto(two_vehicles(3).stream_bytes(), gcs)
            got.until(n_obs(6))
    assert (hb[0], hb[5], hb[7]) == (0xFD, 254, 0)  # MAVLink 2 HEARTBEAT from sysid 254, not the GCS's 255
    assert got.statuses()[0][0] is True


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_serial_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)  # bytes written before the link opens the port must not be cooked
    got = Collector()
    try:
        link = MavlinkLink(cfg(f"serial:{os.ttyname(slave)}:115200"), got, clock=lambda: FIXED)
        with running(link):
            os.write(master, two_vehicles(5).stream_bytes())
            got.until(n_obs(10))
    finally:
        os.close(master)
        os.close(slave)
    assert {o.subject_id for o in got.observations()} == {"uav/1", "uav/2"}


def test_unreachable_tcp_backs_off_and_stops() -> None:
    got = Collector()
    link = MavlinkLink(cfg(f"tcp:127.0.0.1:{free_port(socket.SOCK_STREAM)}"), got)
    with running(link):
        deadline = time.monotonic() + WAIT_S
        while link.stats.connect_errors < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert link.stats.connect_errors >= 3 and link.stats.connects == 0
    assert got.q.empty()  # never up, so no LinkStatus either


def test_file_url_replays_with_data_time(tmp_path: Path) -> None:
    path = two_vehicles(3).write(tmp_path / "patrol.tlog")
    got = Collector()
    MavlinkLink(cfg(f"file:{path}"), got).run(threading.Event())
    events = got.until(link_is(False))
    first, last = events[0], events[-1]
    assert isinstance(first, LinkStatus) and (first.up, first.time) == (True, FIXED)
    assert isinstance(last, LinkStatus) and (last.up, last.detail) == (False, "end of file")
    assert last.time == FIXED + timedelta(seconds=2)
    assert len(got.observations()) == 6


def test_missing_file_url_reports_link_down(tmp_path: Path) -> None:
    got = Collector()
    MavlinkLink(cfg(f"file:{tmp_path / 'nope.tlog'}"), got, clock=lambda: FIXED).run(threading.Event())
    (status,) = got.until(link_is(False))
    assert isinstance(status, LinkStatus) and "nope.tlog" in status.detail


@pytest.mark.parametrize("url", ["tcp:no-port", "udpin::14550", "tcpin:host:port"])
def test_bad_url_is_refused(url: str) -> None:
    # The settings refuse these first; the link checks again for callers that build configs unchecked.
    with pytest.raises(ValueError, match="url"):
        cfg(url)
    unchecked = SourceConfig.model_construct(name="uav", url=url, link_timeout_s=0.5, reconnect_s=0.05,
                                             reconnect_max_s=0.2, realtime=False, speed=1.0, kind="mavlink")
    with pytest.raises(MavlinkError, match="bad MAVLink URL"):
        MavlinkLink(unchecked, Collector())
