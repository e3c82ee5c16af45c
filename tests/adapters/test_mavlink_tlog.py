"""Real .tlog files: routewatch's framer against pymavlink's own reading of the same bytes."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastcrc import crc16
from pymavlink import mavutil
from pymavlink.generator.mavcrc import x25crc

from routewatch.ingest.mavlink import MavlinkDecoder, MavlinkError, MavlinkStats, TlogReader, TlogWriter, iter_tlog
from routewatch.model import ClockOffset, FenceStatus, Observation, TelemetryEvent, VehicleStatus
from tests.kits.require import needs_files

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mavlink"
FLIGHT = DATA / "dronekit_flight_replay_flight.tlog"
TINY = DATA / "dronekit_log_upload_test.tlog"
needs_data = needs_files(FLIGHT)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Reference:
    """What pymavlink makes of a tlog."""

    counts: Counter[str] = field(default_factory=Counter)
    positions: list[tuple[float, float, float, float]] = field(default_factory=list)  # t, lat, lon, alt
    offsets: list[float] = field(default_factory=list)


def pymavlink_reference(path: Path) -> Reference:
    """pymavlink's bare parse loop, applying the fix and 0,0 rules routewatch documents."""
    ref = Reference()
    fix: dict[int, int] = {}
    conn = mavutil.mavlink_connection(str(path))
    try:
        while (m := conn.recv_match()) is not None:
            kind = m.get_type()
            ref.counts[kind] += 1
            if kind == "BAD_DATA" or m.get_srcSystem() in (51, 255):
                continue
            if kind == "GPS_RAW_INT":
                fix[m.get_srcSystem()] = m.fix_type
            elif kind == "GLOBAL_POSITION_INT" and fix.get(m.get_srcSystem(), 3) >= 2 and (m.lat, m.lon) != (0, 0):
                ref.positions.append((m._timestamp, m.lat / 1e7, m.lon / 1e7, m.alt / 1000))
            elif kind == "SYSTEM_TIME" and m.time_unix_usec:
                ref.offsets.append(m._timestamp - m.time_unix_usec / 1e6)
    finally:
        conn.close()
    return ref


@pytest.fixture(scope="module")
def flight() -> tuple[Reference, list[TelemetryEvent], MavlinkStats]:
    stats = MavlinkStats()
    events = list(iter_tlog(FLIGHT, "flight", stats))
    return pymavlink_reference(FLIGHT), events, stats


@needs_data
def test_flight_counts_match_pymavlink(flight: tuple[Reference, list[TelemetryEvent], MavlinkStats]) -> None:
    ref, _, stats = flight
    assert stats.messages == sum(ref.counts.values())
    by_type = stats.by_type()
    for name in ("GLOBAL_POSITION_INT", "GPS_RAW_INT", "ATTITUDE", "HEARTBEAT", "SYSTEM_TIME", "FENCE_STATUS",
                 "MOUNT_STATUS", "RADIO_STATUS"):
        assert by_type[name] == ref.counts[name], name
    # pymavlink's BAD_DATA are GCS packets under id 142 whose length no dialect message has
    assert stats.bad_crc + stats.bad_frame == ref.counts["BAD_DATA"] > 0
    assert stats.truncated == 1  # the file ends inside a record
    assert stats.resync_bytes == 0 and stats.unknown_id == 0
    assert stats.no_fix == ref.counts["GLOBAL_POSITION_INT"] - len(ref.positions) > 0


@needs_data
def test_flight_positions_equal_pymavlink(flight: tuple[Reference, list[TelemetryEvent], MavlinkStats]) -> None:
    ref, events, _ = flight
    obs = [e for e in events if isinstance(e, Observation)]
    assert len(obs) == len(ref.positions) > 2000
    for o, (ts, lat, lon, alt) in zip(obs, ref.positions, strict=True):
        assert (o.time.timestamp(), o.lat, o.lon, o.alt_m) == pytest.approx((ts, lat, lon, alt), abs=1e-6)
    assert {o.subject_id for o in obs} == {"flight/1"}
    # PROVENANCE.md states the box to 6 decimals
    assert min(o.lat for o in obs) == pytest.approx(-35.362351, abs=1e-6)
    assert max(o.lat for o in obs) == pytest.approx(-35.361969, abs=1e-6)
    assert min(o.lon for o in obs) == pytest.approx(149.165444, abs=1e-6)
    assert max(o.lon for o in obs) == pytest.approx(149.165966, abs=1e-6)
    start, end = datetime(2015, 7, 5, 0, 26, 43, tzinfo=UTC), datetime(2015, 7, 5, 0, 49, 41, tzinfo=UTC)
    assert all(start <= e.time <= end for e in events)
    assert all(e.time.tzinfo is UTC for e in events)
    assert [e.time for e in events] == sorted(e.time for e in events)


@needs_data
def test_flight_clock_offset_and_modes(flight: tuple[Reference, list[TelemetryEvent], MavlinkStats]) -> None:
    ref, events, _ = flight
    offsets = [e.offset_s for e in events if isinstance(e, ClockOffset)]
    assert len(offsets) == len(ref.offsets)
    assert statistics.median(offsets) == pytest.approx(statistics.median(ref.offsets), abs=1e-6)
    assert statistics.median(offsets) == pytest.approx(-1.43, abs=0.05)
    modes = {e.mode for e in events if isinstance(e, VehicleStatus)}
    assert {"STABILIZE", "LOITER", "AUTO", "RTL"} <= modes
    assert {e.vehicle_type for e in events if isinstance(e, VehicleStatus)} == {"quadrotor"}


@needs_data
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_flight_as_a_live_stream_in_odd_chunks(chunk: int,
                                               flight: tuple[Reference, list[TelemetryEvent], MavlinkStats]) -> None:
    _, events, stats = flight
    data, packets, ofs = FLIGHT.read_bytes(), [], 0
    while ofs + 16 <= len(data) and ofs + 16 + data[ofs + 9] <= len(data):  # strip the record stamps
        packets.append(data[ofs + 8: ofs + 16 + data[ofs + 9]])
        ofs += 16 + data[ofs + 9]
    stream = b"".join(packets)
    recv = datetime(2026, 1, 1, tzinfo=UTC)
    dec = MavlinkDecoder("flight")
    got = [e for i in range(0, len(stream), chunk) for e in dec.feed(stream[i:i + chunk], recv)]
    def fixes(evs: list[TelemetryEvent]) -> list[tuple[float, float, float | None]]:
        return [(e.lat, e.lon, e.alt_m) for e in evs if isinstance(e, Observation)]

    # all packets share one receipt time here, so only the repeated status events differ
    assert fixes(got) == fixes(events)
    assert Counter(type(e) for e in got if not isinstance(e, VehicleStatus | FenceStatus)) == Counter(
        type(e) for e in events if not isinstance(e, VehicleStatus | FenceStatus))
    assert (dec.stats.messages, dec.stats.decoded, dec.stats.bad_frame) == (
        stats.messages, stats.decoded, stats.bad_frame)
    assert dec.stats.resync_bytes == 0


@needs_data
def test_tiny_log_without_fix_gives_no_positions() -> None:
    stats = MavlinkStats()
    events = list(iter_tlog(TINY, "tiny", stats))
    ref = pymavlink_reference(TINY)
    assert not [e for e in events if isinstance(e, Observation)]
    assert ref.positions == []
    assert stats.no_fix == ref.counts["GLOBAL_POSITION_INT"] > 0
    assert stats.messages == sum(ref.counts.values())


@needs_data
def test_progress_reaches_the_file_size() -> None:
    reader = TlogReader(FLIGHT, "flight", chunk_size=64 * 1024)
    seen = []
    for _ in reader:
        if not seen or seen[-1] != reader.bytes_read:
            seen.append(reader.bytes_read)
    assert reader.bytes_total == FLIGHT.stat().st_size
    assert seen == sorted(seen) and len(seen) > 10 and seen[-1] == reader.bytes_total


@pytest.mark.parametrize("data", [b"", b"123456789", bytes(range(256)), b"\xfe\x1c\x00\x01\x01\x21" + bytes(28)],
                         ids=["empty", "check", "all-bytes", "gpi-header"])
def test_fastcrc_is_mavlink_x25(data: bytes) -> None:
    assert crc16.mcrf4xx(data) == x25crc(data).crc
    assert crc16.mcrf4xx(b"\x68", crc16.mcrf4xx(data)) == x25crc(data + b"\x68").crc


def _mixed_log(path: Path) -> TlogWriter:
    w = TlogWriter()
    for i in range(30):
        t = T0 + timedelta(seconds=i)
        w.mavlink2 = i % 2 == 1  # v1 and v2 interleaved, as after a GCS switches protocol
        w.heartbeat(t, 1)
        w.gps_raw_int(t, 2, 3, -35.0, 149.0, 600.0)
        w.global_position_int(t, 1, -35.36 + i * 1e-5, 149.16, 600.0 + i, 10.0, 1.0, 2.0, 0.0, 63.4)
        w.global_position_int(t, 2, -35.37, 149.17 + i * 1e-5, 700.0, 10.0, 0.0, 0.0, 0.0, None)
        w.radio_status(t)
        if i % 7 == 3:
            w.raw(t, b"\x00\xfe\x09noise\xfd")
    w.write(path)
    return w


@pytest.fixture
def pymavlink_v2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pymavlink parses MAVLink 2 only with MAVLINK20 set when its dialect is chosen."""
    monkeypatch.setenv("MAVLINK20", "1")
    mavutil.set_dialect("ardupilotmega")
    yield
    monkeypatch.delenv("MAVLINK20")
    mavutil.set_dialect("ardupilotmega")


@pytest.mark.usefixtures("pymavlink_v2")
def test_written_log_reads_back_like_pymavlink(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tlog"
    _mixed_log(path)
    stats = MavlinkStats()
    obs = [e for e in iter_tlog(path, "mix", stats) if isinstance(e, Observation)]
    ref = pymavlink_reference(path)
    assert len(obs) == len(ref.positions) == 60
    for o, (ts, lat, lon, alt) in zip(obs, ref.positions, strict=True):
        assert (o.time.timestamp(), o.lat, o.lon, o.alt_m) == pytest.approx((ts, lat, lon, alt), abs=1e-6)
    assert [o.subject_id for o in obs[:2]] == ["mix/1", "mix/2"]
    assert stats.resyncs == 4 and stats.corrupt == 0  # i = 3, 10, 17, 24


def test_realtime_replay_sleeps_the_record_gaps(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tlog"
    _mixed_log(path)
    sleeps: list[float] = []
    fast = list(iter_tlog(path, "mix", MavlinkStats()))
    paced = list(iter_tlog(path, "mix", MavlinkStats(), realtime=True, speed=4.0, sleep=sleeps.append))
    assert paced == fast
    assert sum(sleeps) == pytest.approx((fast[-1].time - fast[0].time).total_seconds() / 4.0)
    assert all(s > 0 for s in sleeps)


@pytest.mark.parametrize(("name", "error"), [("missing.tlog", FileNotFoundError), ("a-directory", MavlinkError)])
def test_unreadable_file_fails_clearly(tmp_path: Path, name: str, error: type[Exception]) -> None:
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(error, match=name):
        iter_tlog(tmp_path / name, "x", MavlinkStats())


def test_empty_file_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.tlog"
    path.write_bytes(b"")
    stats = MavlinkStats()
    assert list(iter_tlog(path, "x", stats)) == []
    assert stats.messages == stats.truncated == 0


@pytest.fixture(scope="module")
def flight_hdop() -> list[float | None]:
    """pymavlink's reading: for each position with a fix, the HDOP of its system's newest GPS_RAW_INT."""
    hdop: dict[int, float | None] = {}
    fix: dict[int, int] = {}
    out: list[float | None] = []
    conn = mavutil.mavlink_connection(str(FLIGHT))
    try:
        while (m := conn.recv_match(type=["GPS_RAW_INT", "GLOBAL_POSITION_INT"])) is not None:
            sysid = m.get_srcSystem()
            if sysid in (51, 255):
                continue
            if m.get_type() == "GPS_RAW_INT":
                fix[sysid] = m.fix_type
                hdop[sysid] = None if m.eph == 65535 else m.eph / 100.0
            elif fix.get(sysid, 3) >= 2 and (m.lat, m.lon) != (0, 0):
                out.append(hdop.get(sysid))
    finally:
        conn.close()
    return out


@needs_data
@pytest.mark.parametrize("uere", [3.0, 4.0, 5.0])
def test_flight_positions_carry_their_gps_accuracy(flight_hdop: list[float | None], uere: float) -> None:
    events = list(TlogReader(FLIGHT, "flight", gps_uere_m=uere))
    acc = [e.accuracy_m for e in events if isinstance(e, Observation)]
    assert len(acc) == len(flight_hdop) == 2684
    assert all(a is not None for a in acc)  # every fix comes after a GPS_RAW_INT in this flight
    # MAVLink 1 carries no h_acc: HDOP (2.25 to 5.54 in this flight) times the UERE.
    assert acc == [pytest.approx(h * uere) for h in flight_hdop if h is not None]
    assert all(0.5 <= a <= 50.0 for a in acc if a is not None)
