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

from routewatch.config.schema import SourceConfig
from routewatch.ingest.mavlink import MavlinkLink, TlogWriter
from routewatch.model import Observation, TelemetryEvent
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

    def __init__(self) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.events: list[TelemetryEvent] = []
        self._lock = threading.Lock()
        self.link = MavlinkLink(SourceConfig(name="uav", url=f"udpin:127.0.0.1:{self.port}"), self._emit,
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
def udp_link() -> Iterator[Link]:
    lk = Link()
    stop = threading.Event()
    thread = lk.link.start(stop)
    try:
        deadline = time.monotonic() + WAIT_S
        w = TlogWriter()
        probe = w.global_position_int(T0, 9, -35.0, 149.0, 10.0)
        while lk.link.stats.decoded == 0:  # until the link listens
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
