"""MAVLink bytes (packed by pymavlink through TlogWriter) -> model events, exact values and counters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routewatch.ingest.mavlink import MavlinkDecoder, MavlinkError, MavlinkStats, TlogWriter, parse_url
from routewatch.ingest.mavlink.writer import COPTER_MODES, MAV_AUTOPILOT_INVALID, MAV_TYPE_FIXED_WING, MAV_TYPE_GCS
from routewatch.model import Attitude, ClockOffset, FenceStatus, Observation, Role, TelemetryEvent, VehicleStatus

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RECV = datetime(2026, 3, 1, 13, 0, 0, 250_000, tzinfo=UTC)
LAT, LON = -35.3621234, 149.1651234
MODES = ["tlog", "stream"]


def t(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def decode(w: TlogWriter, mode: str, data: bytes | None = None) -> tuple[list[TelemetryEvent], MavlinkStats]:
    """Decode what w wrote as a .tlog (record times) or as one received stream chunk (RECV)."""
    dec = MavlinkDecoder("src")
    if mode == "tlog":
        events = dec.feed_tlog(w.tlog_bytes() if data is None else data, final=True)
    else:
        events = dec.feed(w.stream_bytes() if data is None else data, RECV)
    return events, dec.stats


def observations(events: list[TelemetryEvent]) -> list[Observation]:
    return [e for e in events if isinstance(e, Observation)]


def packet(mavlink2: bool, write: Callable[[TlogWriter], bytes]) -> bytes:
    """The bytes of one packet, written by a scratch writer."""
    return write(TlogWriter(mavlink2))


# --- each message type, exact values --------------------------------------------------------

POSITION_ROWS = [
    # hdg_deg, vx, vy -> speed, heading
    pytest.param(90.0, 3.0, 4.0, 5.0, 90.0, id="hdg-given"),
    pytest.param(None, 0.0, 2.0, 2.0, 90.0, id="hdg-unknown-derived-east"),
    pytest.param(None, -1.0, 0.0, 1.0, 180.0, id="hdg-unknown-derived-south"),
    pytest.param(None, 0.3, 0.3, 0.4243, None, id="hdg-unknown-too-slow"),
    pytest.param(359.99, 0.0, 0.0, 0.0, 359.99, id="hdg-max"),
]


@pytest.mark.parametrize("mavlink2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize(("hdg", "vx", "vy", "speed", "heading"), POSITION_ROWS)
def test_global_position_int_exact(mavlink2: bool, hdg: float | None, vx: float, vy: float, speed: float,
                                   heading: float | None) -> None:
    w = TlogWriter(mavlink2)
    w.heartbeat(t(0), 1)
    w.global_position_int(t(1), 1, LAT, LON, 584.25, 12.5, vx, vy, -0.5, hdg)
    (obs,) = observations(decode(w, "tlog")[0])
    assert obs == Observation(
        "src/1", t(1), pytest.approx(LON, abs=1e-9), pytest.approx(LAT, abs=1e-9), 584.25, "drone",
        Role.PATROL, 1.0, "src", pytest.approx(speed, abs=1e-4),
        None if heading is None else pytest.approx(heading, abs=1e-9),
    )


def _expect_status(kind: str, mode: str, armed: bool) -> Callable[[datetime], TelemetryEvent]:
    return lambda tm: VehicleStatus("src/1", tm, kind, mode, armed, "src")


MESSAGE_ROWS = [
    pytest.param(lambda w: w.heartbeat(t(1), 1, custom_mode=COPTER_MODES["LOITER"]),
                 _expect_status("quadrotor", "LOITER", True), id="heartbeat-copter"),
    pytest.param(lambda w: w.heartbeat(t(1), 1, MAV_TYPE_FIXED_WING, 0, armed=False),
                 _expect_status("fixed_wing", "MANUAL", False), id="heartbeat-plane-disarmed"),
    pytest.param(lambda w: w.attitude(t(1), 1, 10.0, -5.0, 170.0),
                 lambda tm: Attitude("src/1", tm, pytest.approx(10.0, abs=1e-4), pytest.approx(-5.0, abs=1e-4),
                                     pytest.approx(170.0, abs=1e-4), "src"), id="attitude"),
    pytest.param(lambda w: w.system_time(t(1), 1, t(1) + timedelta(seconds=1.5)),
                 None, id="system-time"),
    pytest.param(lambda w: w.fence_status(t(1), 1, True, 3, 1),
                 lambda tm: FenceStatus("src/1", tm, True, 3, 1, "src"), id="fence-breached"),
    pytest.param(lambda w: w.fence_status(t(1), 1, False),
                 lambda tm: FenceStatus("src/1", tm, False, 0, 0, "src"), id="fence-clear"),
    pytest.param(lambda w: w.adsb_vehicle(t(1), 1, 0xABC123, -35.3, 149.2, 1234.5, 271.5, 61.73, "QFA1"),
                 lambda tm: Observation("adsb:ABC123", tm, pytest.approx(149.2), pytest.approx(-35.3), 1234.5,
                                        "aircraft", Role.TARGET, 1.0, "src", 61.73, 271.5), id="adsb"),
    pytest.param(lambda w: w.adsb_vehicle(t(1), 1, 0x00BEEF, -35.3, 149.2, 100.0, 10.0, 5.0, flags=1),
                 lambda tm: Observation("adsb:00BEEF", tm, pytest.approx(149.2), pytest.approx(-35.3), None,
                                        "aircraft", Role.TARGET, 1.0, "src"), id="adsb-coords-only"),
    pytest.param(lambda w: w.open_drone_id_location(t(1), 1, "SN1596F3", -35.31, 149.21, 120.5, 45.25, 12.5),
                 lambda tm: Observation("odid:SN1596F3", tm, pytest.approx(149.21), pytest.approx(-35.31), 120.5,
                                        "drone", Role.TARGET, 1.0, "src", 12.5, 45.25, 10.0), id="odid-text-id"),
    pytest.param(lambda w: w.open_drone_id_location(t(1), 1, b"\x01\x02\x03\xa4\xb5\xc6", -35.31, 149.21,
                                                    None, None, None, horizontal_accuracy=0),
                 lambda tm: Observation("odid:010203A4B5C6", tm, pytest.approx(149.21), pytest.approx(-35.31),
                                        None, "drone", Role.TARGET, 1.0, "src"), id="odid-mac-unknowns"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mavlink2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize(("write", "expect"), MESSAGE_ROWS)
def test_message_types_exact(mode: str, mavlink2: bool, write: Callable[[TlogWriter], bytes],
                             expect: Callable[[datetime], TelemetryEvent] | None) -> None:
    w = TlogWriter(mavlink2)
    write(w)
    got, stats = decode(w, mode)
    tm = t(1) if mode == "tlog" else RECV
    if expect is None:  # SYSTEM_TIME: receipt minus vehicle clock
        assert got == [ClockOffset("src/1", tm, (tm - t(2.5)).total_seconds(), "src")]
    else:
        assert got == [expect(tm)]
    assert stats.bad_crc == stats.bad_frame == stats.unknown_id == stats.resync_bytes == 0


def test_clock_offset_ignores_unset_vehicle_time() -> None:
    w = TlogWriter()
    w.system_time(t(1), 1, None)
    assert decode(w, "tlog")[0] == []


# --- positions that are not positions ----------------------------------------------------------

DROP_ROWS = [
    # (gps fix_type or None for no GPS_RAW_INT, lat, lon, observations, counter, count)
    pytest.param(None, LAT, LON, 1, None, 0, id="no-gps-msg-accepted"),
    pytest.param(3, LAT, LON, 1, None, 0, id="3d-fix"),
    pytest.param(2, LAT, LON, 1, None, 0, id="2d-fix"),
    pytest.param(1, LAT, LON, 0, "no_fix", 1, id="no-fix"),
    pytest.param(0, LAT, LON, 0, "no_fix", 1, id="no-gps"),
    pytest.param(1, 0.0, 0.0, 0, "no_fix", 1, id="no-fix-and-zero"),
    pytest.param(3, 0.0, 0.0, 0, "invalid_position", 1, id="zero-zero"),
    pytest.param(3, 0.0, 12.0, 1, None, 0, id="equator-ok"),
    pytest.param(3, 91.0, LON, 0, "invalid_position", 1, id="lat-out-of-range"),
    pytest.param(3, LAT, 181.0, 0, "invalid_position", 1, id="lon-out-of-range"),
]


@pytest.mark.parametrize(("fix", "lat", "lon", "n_obs", "counter", "count"), DROP_ROWS)
def test_position_filters(fix: int | None, lat: float, lon: float, n_obs: int, counter: str | None,
                          count: int) -> None:
    w = TlogWriter()
    w.heartbeat(t(0), 1)
    if fix is not None:
        w.gps_raw_int(t(0.5), 1, fix, lat, lon, 500.0)
    w.global_position_int(t(1), 1, lat, lon, 500.0)
    events, stats = decode(w, "tlog")
    assert len(observations(events)) == n_obs
    if counter:
        assert getattr(stats, counter) == count


def test_fix_regained_accepts_positions_again() -> None:
    w = TlogWriter()
    w.gps_raw_int(t(0), 1, 1, 0, 0, 0)
    w.global_position_int(t(1), 1, LAT, LON, 500.0)
    w.gps_raw_int(t(2), 1, 3, LAT, LON, 500.0)
    w.global_position_int(t(3), 1, LAT, LON, 500.0)
    events, stats = decode(w, "tlog")
    assert [o.time for o in observations(events)] == [t(3)]
    assert stats.no_fix == 1


ADSB_ODID_DROPS = [
    pytest.param(lambda w: w.adsb_vehicle(t(1), 1, 1, -35.0, 149.0, 1.0, 0.0, 0.0, flags=0), "invalid_position",
                 id="adsb-no-valid-coords"),
    pytest.param(lambda w: w.adsb_vehicle(t(1), 1, 1, 0.0, 0.0, 1.0, 0.0, 0.0), "invalid_position",
                 id="adsb-zero-zero"),
    pytest.param(lambda w: w.open_drone_id_location(t(1), 1, "X1", 0.0, 0.0, 1.0, 0.0, 0.0), "invalid_position",
                 id="odid-zero-zero"),
    pytest.param(lambda w: w.open_drone_id_location(t(1), 1, "X1", -35.0, 149.0, 1.0, 0.0, 0.0, status=4),
                 "invalid_position", id="odid-system-failure"),
    pytest.param(lambda w: w.open_drone_id_location(t(1), 1, b"", -35.0, 149.0, 1.0, 0.0, 0.0), "ignored",
                 id="odid-own-broadcast"),
]


@pytest.mark.parametrize(("write", "counter"), ADSB_ODID_DROPS)
def test_target_filters(write: Callable[[TlogWriter], bytes], counter: str) -> None:
    w = TlogWriter(True)
    write(w)
    events, stats = decode(w, "tlog")
    assert events == []
    assert getattr(stats, counter) == 1


# --- which systems are vehicles ----------------------------------------------------------------

def test_vehicles_told_apart_and_non_vehicles_ignored() -> None:
    w = TlogWriter()
    w.heartbeat(t(0), 255, MAV_TYPE_GCS, autopilot=MAV_AUTOPILOT_INVALID, compid=190)
    w.radio_status(t(0.1))
    w.global_position_int(t(0.2), 51, LAT, LON, 1.0)  # the SiK radio's sysid: not a vehicle
    w.global_position_int(t(0.3), 255, LAT, LON, 1.0)  # the GCS
    w.global_position_int(t(0.4), 7, LAT, LON, 1.0)  # no heartbeat yet: accepted
    w.heartbeat(t(1), 1)
    w.heartbeat(t(1), 2, MAV_TYPE_FIXED_WING, 10)
    w.heartbeat(t(1.1), 1, 30, autopilot=MAV_AUTOPILOT_INVALID, compid=100)  # a camera on vehicle 1
    w.heartbeat(t(1.2), 9, 30, autopilot=MAV_AUTOPILOT_INVALID, compid=100)  # a stand-alone camera system
    w.global_position_int(t(2), 1, -35.1, 149.1, 10.0)
    w.global_position_int(t(2), 2, -35.2, 149.2, 20.0)
    w.global_position_int(t(2.1), 1, -35.1, 149.1, 10.0, compid=100)  # not the autopilot's
    w.global_position_int(t(2.2), 9, -35.3, 149.3, 10.0)
    events, stats = decode(w, "tlog")
    assert [(o.subject_id, o.lat, o.alt_m) for o in observations(events)] == [
        ("src/7", pytest.approx(LAT), 1.0), ("src/1", pytest.approx(-35.1), 10.0),
        ("src/2", pytest.approx(-35.2), 20.0),
    ]
    statuses = [(e.subject_id, e.vehicle_type, e.mode) for e in events if isinstance(e, VehicleStatus)]
    assert statuses == [("src/1", "quadrotor", "STABILIZE"), ("src/2", "fixed_wing", "AUTO")]
    assert stats.ignored == 7  # 3 heartbeats + 4 positions (51, 255, compid 100, camera system 9)
    assert stats.by_type()["RADIO_STATUS"] == 1


def test_status_and_fence_only_on_change_or_every_10_s() -> None:
    w = TlogWriter()
    for s in (0, 1, 2):
        w.heartbeat(t(s), 1, custom_mode=COPTER_MODES["AUTO"])
        w.fence_status(t(s), 1, False)
    w.heartbeat(t(3), 1, custom_mode=COPTER_MODES["RTL"])
    w.fence_status(t(3), 1, True, 1, 2)
    w.heartbeat(t(13), 1, custom_mode=COPTER_MODES["RTL"])
    w.fence_status(t(13), 1, True, 1, 2)
    events, _ = decode(w, "tlog")
    assert [(e.time, e.mode) for e in events if isinstance(e, VehicleStatus)] == [
        (t(0), "AUTO"), (t(3), "RTL"), (t(13), "RTL")]
    assert [(e.time, e.breached) for e in events if isinstance(e, FenceStatus)] == [
        (t(0), False), (t(3), True), (t(13), True)]


# --- damaged input -----------------------------------------------------------------------------

def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]


DAMAGE_ROWS = [
    # what goes between the good positions at t=1 and t=3, counters expected (both modes)
    pytest.param(lambda v2: b"\x00\x13garbage\xfe\x01\x02no packet here\xfd\xff", {"resyncs": 1}, id="garbage"),
    pytest.param(lambda v2: _flip(packet(v2, lambda w: w.global_position_int(t(2), 1, LAT, LON, 5.0)), 12),
                 {"bad_crc": 1}, id="flipped-payload-byte"),
    pytest.param(lambda v2: _flip(packet(v2, lambda w: w.attitude(t(2), 1, 1.0, 2.0, 3.0)), 3),
                 {"bad_crc": 1}, id="flipped-header-byte"),
    pytest.param(lambda v2: packet(v2, lambda w: w.custom(t(2), 1, 3 if not v2 else 60000, b"\x01\x02\x03")),
                 {"unknown_id": 1}, id="unknown-msgid"),
    pytest.param(lambda v2: packet(False, lambda w: w.custom(t(2), 1, 33, b"\x01\x02\x03\x04\x05")),
                 {"bad_frame": 1}, id="v1-payload-too-short"),
    pytest.param(lambda v2: b"", {}, id="nothing"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mavlink2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize(("damage", "counters"), DAMAGE_ROWS)
def test_damaged_packet_is_counted_and_the_next_one_decoded(
        mode: str, mavlink2: bool, damage: Callable[[bool], bytes], counters: dict[str, int]) -> None:
    w = TlogWriter(mavlink2)
    w.global_position_int(t(1), 1, -35.1, 149.1, 1.0)
    if bad := damage(mavlink2):
        w.raw(t(2), bad)
    w.global_position_int(t(3), 1, -35.3, 149.3, 3.0)
    w.attitude(t(4), 1, 0.0, 0.0, 0.0)
    events, stats = decode(w, mode)
    assert [o.alt_m for o in observations(events)] == [1.0, 3.0]
    assert sum(isinstance(e, Attitude) for e in events) == 1
    for name in ("bad_crc", "bad_frame", "unknown_id", "truncated"):
        assert getattr(stats, name) == counters.get(name, 0), name
    assert stats.resyncs == counters.get("resyncs", stats.resyncs)
    assert stats.decoded == 3


@pytest.mark.parametrize("mavlink2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize("cut", [1, 5, 12, 20])
def test_truncated_final_record(mavlink2: bool, cut: int) -> None:
    w = TlogWriter(mavlink2)
    w.global_position_int(t(1), 1, LAT, LON, 1.0)
    w.global_position_int(t(2), 1, LAT, LON, 2.0)
    events, stats = decode(w, "tlog", w.tlog_bytes()[:-cut])
    assert [o.alt_m for o in observations(events)] == [1.0]
    assert stats.truncated == 1
    stream_dec = MavlinkDecoder("src")
    assert len(stream_dec.feed(w.stream_bytes()[:-cut], RECV)) == 1
    stream_dec.reset()
    assert stream_dec.stats.truncated == 1


def test_signed_v2_packets_decode() -> None:
    w = TlogWriter(True, sign_key=bytes(range(32)))
    raw = w.global_position_int(t(1), 1, LAT, LON, 1.0)
    assert raw[2] & 1  # incompat flag: signed, 13 more bytes
    w.attitude(t(2), 1, 1.0, 2.0, 3.0)
    for mode in MODES:
        events, stats = decode(w, mode)
        assert len(events) == 2 and stats.decoded == 2 and stats.corrupt == 0


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xfe", bytes(300), b"\xfd" * 40], ids=repr)
def test_junk_only_never_raises(data: bytes) -> None:
    for mode in MODES:
        events, _ = decode(TlogWriter(), mode, data)
        assert events == []


def test_packet_split_across_feeds() -> None:
    w = TlogWriter(True)
    w.heartbeat(t(0), 1)
    w.global_position_int(t(1), 1, LAT, LON, 1.0, hdg_deg=12.0)
    w.attitude(t(2), 1, 1.0, 2.0, 3.0)
    data = w.stream_bytes()
    whole, _ = decode(w, "stream")
    for cut in range(len(data) + 1):
        dec = MavlinkDecoder("src")
        got = dec.feed(data[:cut], RECV) + dec.feed(data[cut:], RECV)
        assert got == whole, cut
    dec = MavlinkDecoder("src")
    assert [e for i in range(len(data)) for e in dec.feed(data[i:i + 1], RECV)] == whole
    assert dec.stats.bytes_in == len(data)


def test_tlog_chunks_give_the_same_events() -> None:
    w = TlogWriter()
    for i in range(20):
        w.global_position_int(t(i), 1 + i % 2, LAT, LON, float(i))
        w.raw(t(i), b"\x01\xfe\x07junk")
    data = w.tlog_bytes()
    whole, stats = decode(w, "tlog")
    assert len(observations(whole)) == 20
    dec = MavlinkDecoder("src")
    got = [e for i in range(0, len(data), 7) for e in dec.feed_tlog(data[i:i + 7])] + dec.feed_tlog(b"", final=True)
    assert got == whole
    assert dec.stats.resync_bytes == stats.resync_bytes > 0


def test_sequence_numbers_per_sysid() -> None:
    w = TlogWriter()
    seqs = [(pkt[3], pkt[2]) for pkt in (w.heartbeat(t(0), 1), w.heartbeat(t(0), 2), w.heartbeat(t(1), 1),
                                         w.attitude(t(1), 1, 0, 0, 0), w.heartbeat(t(1), 2))]
    assert seqs == [(1, 0), (2, 0), (1, 1), (1, 2), (2, 1)]


def test_stats_as_dict() -> None:
    w = TlogWriter()
    w.heartbeat(t(0), 1)
    w.radio_status(t(0))
    w.custom(t(0), 1, 3, b"\x00")
    _, stats = decode(w, "tlog")
    d = stats.as_dict()
    assert d["messages"] == 3 and d["decoded"] == 1 and d["skipped"] == 1 and d["unknown_id"] == 1
    assert d["by_type"] == {"HEARTBEAT": 1, "UNKNOWN_3": 1, "RADIO_STATUS": 1}


def test_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MavlinkDecoder("src").feed(b"", datetime(2026, 1, 1))


URL_ROWS = [
    ("udpin:0.0.0.0:14550", ("udpin", "0.0.0.0", 14550)),
    ("udp:127.0.0.1:14550", ("udpin", "127.0.0.1", 14550)),
    ("udpout:10.0.0.2:14555", ("udpout", "10.0.0.2", 14555)),
    ("tcp:localhost:5760", ("tcp", "localhost", 5760)),
    ("tcpin:[::1]:5760", ("tcpin", "::1", 5760)),
    ("serial:/dev/ttyUSB0:57600", ("serial", "/dev/ttyUSB0", 57600)),
    ("serial:/dev/ttyACM0", ("serial", "/dev/ttyACM0", 57600)),
    ("file:/logs/a.tlog", ("file", "/logs/a.tlog", 0)),
    ("logs/flight.tlog", ("file", "logs/flight.tlog", 0)),
]


@pytest.mark.parametrize(("url", "parsed"), URL_ROWS)
def test_parse_url(url: str, parsed: tuple[str, str, int]) -> None:
    assert parse_url(url) == parsed


@pytest.mark.parametrize("url", ["", "tcp:", "tcp:host", "udpout:host:port", "http://x:80", "tcpin::5760"])
def test_parse_url_refuses(url: str) -> None:
    with pytest.raises(MavlinkError, match="bad MAVLink URL"):
        parse_url(url)


WANTED_IDS = [0, 2, 24, 30, 33, 162, 246, 12901]
CRC_EXTRA = {0: 50, 2: 137, 24: 24, 30: 39, 33: 104, 162: 189, 246: 184, 12901: 254}


@settings(max_examples=300, deadline=None)
@given(msgid=st.sampled_from(WANTED_IDS), payload=st.binary(min_size=1, max_size=255), v2=st.booleans(),
       sysid=st.integers(0, 255), junk=st.binary(max_size=40))
def test_any_well_framed_payload_never_raises(msgid: int, payload: bytes, v2: bool, sysid: int, junk: bytes) -> None:
    w = TlogWriter(v2)
    w.custom(t(1), sysid, msgid, payload, crc_extra=CRC_EXTRA[msgid])
    w.raw(t(2), junk)
    w.custom(t(3), sysid, msgid, payload[::-1], crc_extra=CRC_EXTRA[msgid])
    for mode in MODES:
        events, stats = decode(w, mode)
        assert all(e.time.tzinfo is UTC for e in events)
        assert stats.messages >= (1 if mode == "tlog" else 0)  # a stream may still wait for more bytes


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    for mode in MODES:
        decode(TlogWriter(), mode, data)
