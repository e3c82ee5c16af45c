"""MAVLink over UDP, datagram by datagram: junk in one never costs a packet of the next, and every
refused packet is counted (real pymavlink bytes over a real loopback socket)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from routewatch.config.sources import SourceConfig
from routewatch.ingest.mavlink import MavlinkLink, TlogWriter
from routewatch.model import Observation, TelemetryEvent, VehicleStatus
from tests.conftest import free_port

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PROBE = "uav/9"
WAIT_S = 20.0  # a guard against hanging, not a timing assertion


def positions(n: int) -> list[bytes]:
    """n GLOBAL_POSITION_INT packets, half MAVLink 1 (system 1) and half MAVLink 2 (system 2)."""
    out = []
    for mavlink2, sysid in ((False, 1), (True, 2)):
        w = TlogWriter(mavlink2)
        for i in range(n // 2):
            w.global_position_int(T0 + timedelta(seconds=i), sysid, -35.1 + i * 1e-5, 149.1, 100.0 + i)
        out += [p for _, p in w.packets()]
    return out


class Link:
    """A udpin MavlinkLink on a free loopback port, and a sender that waits for each burst to be read."""

    def __init__(self, **cfg: object) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.events: list[TelemetryEvent] = []
        self._lock = threading.Lock()
        self.link = MavlinkLink(SourceConfig(name="uav", url=f"udpin:127.0.0.1:{self.port}", **cfg), self._emit,
                                clock=lambda: T0)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0

    def _emit(self, ev: TelemetryEvent) -> None:
        with self._lock:
            self.events.append(ev)

    def observations(self) -> list[Observation]:
        with self._lock:
            return [e for e in self.events if isinstance(e, Observation) and e.subject_id != PROBE]

    def send(self, datagrams: list[bytes], burst: int = 50) -> None:
        """Send in bursts small enough for the socket buffer, so only parsing decides what is lost."""
        for i in range(0, len(datagrams), burst):
            for d in datagrams[i:i + burst]:
                self.tx.sendto(d, ("127.0.0.1", self.port))
                self.sent += len(d)
            deadline = time.monotonic() + WAIT_S
            while self.link.stats.bytes_in < self.sent:
                assert time.monotonic() < deadline, f"link read {self.link.stats.bytes_in} of {self.sent} bytes"
                time.sleep(0.005)


@contextmanager
def udp_link(**cfg: object) -> Iterator[Link]:
    lk = Link(**cfg)
    stop = threading.Event()
    thread = lk.link.start(stop)
    try:
        deadline = time.monotonic() + WAIT_S
        w = TlogWriter()
        probe = w.global_position_int(T0, 9, -35.0, 149.0, 10.0)
        while lk.link.stats.bytes_in == 0:  # until the link listens
            assert time.monotonic() < deadline, "link never came up"
            lk.tx.sendto(probe, ("127.0.0.1", lk.port))
            time.sleep(0.05)
        time.sleep(0.2)  # the last probes are read too
        lk.sent = lk.link.stats.bytes_in
        yield lk
    finally:
        stop.set()
        thread.join(WAIT_S)
        lk.tx.close()


def test_a_junk_byte_before_each_packet_costs_no_packet() -> None:
    packets = positions(500)
    with udp_link() as lk:
        before = lk.link.stats.corrupt
        lk.send([b"\xfe" + p for p in packets])
        got = lk.observations()
        st = lk.link.stats
    assert len(got) == 500, st.as_dict()
    assert sorted(o.alt_m for o in got if o.subject_id == "uav/1") == [100.0 + i for i in range(250)]
    assert sorted(o.alt_m for o in got if o.subject_id == "uav/2") == [100.0 + i for i in range(250)]
    assert st.corrupt - before == 500  # each junk byte is one refused (cut) packet, counted
    assert st.resync_bytes == 500


@pytest.mark.parametrize("mavlink2", [False, True])
def test_every_bit_flipped_packet_is_refused_and_counted(mavlink2: bool) -> None:
    rng = random.Random(12)
    w = TlogWriter(mavlink2)
    for i in range(3000):
        w.global_position_int(T0 + timedelta(seconds=i), 3, -35.1 + i * 1e-5, 149.1, 100.0 + i)
    good = [p for _, p in w.packets()]
    flipped = []
    for p in good:
        b = bytearray(p)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        flipped.append(bytes(b))
    with udp_link() as lk:
        st = lk.link.stats
        before = st.corrupt + st.unknown_id
        # a damaged datagram, then a good one: the damage must not spill into the good packet
        lk.send([d for pair in zip(flipped, good, strict=True) for d in pair], burst=100)
        got = lk.observations()
        refused = st.corrupt + st.unknown_id - before
    assert refused == 3000, st.as_dict()
    assert [o.alt_m for o in got] == [100.0 + i for i in range(3000)]


def test_lost_packets_are_counted_per_sender_from_sequence_numbers() -> None:
    writers = {(1, 1): TlogWriter(), (2, 1): TlogWriter(True)}
    sent: list[bytes] = []
    for i in range(400):
        for (sysid, _), w in writers.items():
            p = w.global_position_int(T0 + timedelta(seconds=i), sysid, -35.1, 149.1 + i * 1e-5, 100.0 + i)
            if sysid == 1 and i % 10 == 3:  # lost on the way: 40 of system 1's
                continue
            if sysid == 2 and 100 <= i < 130:  # a hole of 30 in system 2's
                continue
            sent.append(p)
    with udp_link() as lk:
        lk.send(sent)
        quality = lk.link.stats.link_quality()
    assert quality["1/1"] == {"received": 360, "lost": 40}
    assert quality["2/1"] == {"received": 370, "lost": 30}
    assert lk.link.stats.lost == 70 and lk.link.stats.kernel_drops == 0


def test_kernel_receive_drops_are_counted_and_match_the_sequence_gaps() -> None:
    port = free_port(socket.SOCK_DGRAM)
    release = threading.Event()
    seen: list[TelemetryEvent] = []

    def slow(ev: TelemetryEvent) -> None:  # a reader held up: the socket buffer overflows meanwhile
        release.wait(WAIT_S)
        seen.append(ev)

    cfg = SourceConfig(name="uav", url=f"udpin:127.0.0.1:{port}", recv_buffer_bytes=65536)
    link = MavlinkLink(cfg, slow, clock=lambda: T0)
    w = TlogWriter()
    # A 64 KiB buffer holds about 150 such datagrams: fewer than 256 are dropped in a row, so the 8-bit
    # sequence number can tell them all.
    n = 350
    packets = [w.global_position_int(T0 + timedelta(milliseconds=i), 4, -35.1, 149.1, 100.0) for i in range(n)]
    stop = threading.Event()
    thread = link.start(stop)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            deadline = time.monotonic() + WAIT_S
            while link.stats.bytes_in == 0:
                assert time.monotonic() < deadline, "link never came up"
                tx.sendto(packets[0], ("127.0.0.1", port))
                time.sleep(0.05)
            for p in packets[1:-1]:
                tx.sendto(p, ("127.0.0.1", port))
            release.set()
            time.sleep(0.5)
            tx.sendto(packets[-1], ("127.0.0.1", port))  # closes the last gap
            while link.stats.link_quality().get("4/1", {}).get("received", 0) + link.stats.lost < n:
                assert time.monotonic() < deadline + WAIT_S, link.stats.link_report()
                time.sleep(0.01)
    finally:
        release.set()
        stop.set()
        thread.join(WAIT_S)
    st = link.stats
    assert 0 < st.recv_buffer_bytes < 4 * 1024 * 1024
    assert st.kernel_drops > 0, st.link_report()
    assert st.lost == st.kernel_drops, st.link_report()  # every packet lost on loopback was lost in the kernel


@pytest.mark.parametrize("pace_s", [0.0, 0.002])
def test_vehicle_time_makes_event_times_independent_of_the_receipt_clock(pace_s: float) -> None:
    """A replay at any speed (here: any pace, and a receipt clock that stands still) gives the same times."""
    boot = datetime(2015, 8, 1, 9, 0, tzinfo=UTC)  # the vehicle's clock at boot, years before receipt
    w = TlogWriter()
    early = w.global_position_int(T0, 5, -35.1, 149.1, 90.0, time_boot_ms=500)  # before its clock is known
    rest = [w.system_time(T0, 5, boot + timedelta(seconds=1), time_boot_ms=1000), w.heartbeat(T0, 5)]
    rest += [w.global_position_int(T0, 5, -35.1, 149.1 + i * 1e-5, 100.0 + i, time_boot_ms=1200 + 200 * i)
             for i in range(50)]
    with udp_link(time_source="vehicle") as lk:
        before = lk.link.stats.no_vehicle_time  # the link's probes, of a system with no clock yet
        lk.send([early])
        for d in rest:
            lk.send([d])
            time.sleep(pace_s)
        got = lk.observations()
        st = lk.link.stats
    assert [(o.time, o.alt_m) for o in got] == [
        (boot + timedelta(milliseconds=1200 + 200 * i), 100.0 + i) for i in range(50)]
    assert st.no_vehicle_time - before == 1  # the early fix is refused (counted), not timed by receipt
    statuses = [e for e in lk.events if isinstance(e, VehicleStatus) and e.subject_id == "uav/5"]
    assert [e.time for e in statuses] == [boot + timedelta(seconds=1)]  # untimed: the newest vehicle time
