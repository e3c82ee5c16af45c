"""MISB ST 0601 parser on packets built here: exact values, sentinels, framing, checksums, junk."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routewatch.ingest import klv
from routewatch.ingest.klv import UAS_LS_KEY, checksum, decode_value, iter_packets, packet_to_dict, scan


def ber_length(n: int, long_form: bool = False) -> bytes:
    """BER length, short form when it fits unless long_form is asked for."""
    if n < 0x80 and not long_form:
        return bytes([n])
    body = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return bytes([0x80 | len(body)]) + body


def ber_oid(tag: int) -> bytes:
    """BER-OID tag: 7 bits a byte, high bit set on all but the last."""
    out = [tag & 0x7F]
    tag >>= 7
    while tag:
        out.append(0x80 | (tag & 0x7F))
        tag >>= 7
    return bytes(reversed(out))


def encode(items: list[tuple[int, bytes]], *, long_len: bool = False, bad_checksum: bool = False,
           with_checksum: bool = True) -> bytes:
    """A Local Set packet with the checksum (tag 1) last and correct unless bad_checksum."""
    body = b"".join(ber_oid(t) + ber_length(len(v), long_len) + v for t, v in items)
    if not with_checksum:
        return UAS_LS_KEY + ber_length(len(body), long_len) + body
    body += b"\x01\x02"
    head = UAS_LS_KEY + ber_length(len(body) + 2, long_len)
    cs = (checksum(head + body) ^ (0xFFFF if bad_checksum else 0)).to_bytes(2, "big")
    return head + body + cs


T0 = datetime(2012, 9, 19, 20, 40, 44, 105300, tzinfo=UTC)
T0_US = 1348087244105300


@pytest.mark.parametrize(("tag", "raw_hex", "expected"), [
    pytest.param(2, T0_US.to_bytes(8, "big").hex(), T0, id="time"),
    pytest.param(3, b"Mission 12".hex(), "Mission 12", id="mission-id"),
    pytest.param(5, "0000", 0.0, id="heading-min"),
    pytest.param(5, "FFFF", 360.0, id="heading-max"),
    pytest.param(5, "71C2", 29122 * 360 / 65535, id="heading-st0601-example"),
    pytest.param(6, "7FFF", 20.0, id="pitch-max"),
    pytest.param(6, "8001", -20.0, id="pitch-min"),
    pytest.param(6, "8000", None, id="pitch-out-of-range"),
    pytest.param(7, "8000", None, id="roll-out-of-range"),
    pytest.param(10, b"Predator".hex(), "Predator", id="designation"),
    pytest.param(13, "5595B66D", 0x5595B66D * 180 / 0xFFFFFFFE, id="lat-st0601-example"),
    pytest.param(13, "7FFFFFFF", 90.0, id="lat-max"),
    pytest.param(13, "80000000", None, id="lat-out-of-range"),
    pytest.param(14, "80000000", None, id="lon-out-of-range"),
    pytest.param(14, "80000001", -180.0, id="lon-min"),
    pytest.param(15, "0000", -900.0, id="alt-min"),
    pytest.param(15, "FFFF", 19000.0, id="alt-max"),
    pytest.param(16, "FFFF", 180.0, id="hfov-max"),
    pytest.param(18, "40000000", 0x40000000 * 360 / 0xFFFFFFFF, id="rel-az"),
    pytest.param(19, "80000000", None, id="rel-el-out-of-range"),
    pytest.param(26, "8000", None, id="corner-out-of-range"),
    pytest.param(26, "7FFF", 0.075, id="corner-max"),
    pytest.param(39, "FF", -1, id="outside-air-temp-signed"),
    pytest.param(65, "06", 6, id="version"),
    pytest.param(200, "0102", b"\x01\x02", id="unknown-kept-raw"),
    pytest.param(48, "0101", b"\x01\x01", id="security-set-raw"),
    pytest.param(13, "", None, id="empty-number"),
    pytest.param(3, "", "", id="empty-string"),
    pytest.param(2, "FF" * 8, None, id="time-beyond-datetime"),
    pytest.param(13, "00" * 9, None, id="number-too-long"),
    pytest.param(3, "FFFE", "\ufffd\ufffd", id="string-not-utf8"),
])
def test_decode_value(tag: int, raw_hex: str, expected: object) -> None:
    got = decode_value(tag, bytes.fromhex(raw_hex))
    if isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-12)
    else:
        assert got == expected


def test_packet_round_trip_exact_values() -> None:
    data = encode([(2, T0_US.to_bytes(8, "big")), (3, b"M1"), (13, bytes.fromhex("80000000")),
                   (14, bytes.fromhex("5B5360C4")), (65, b"\x0b"), (300, b"\xaa")])
    [p] = iter_packets(data)
    assert (p.offset, p.size, p.checksum_ok) == (0, len(data), True)
    assert p.checksum_stored == p.checksum_computed
    pose = p.pose()
    assert (pose.time, pose.mission_id, pose.version, pose.sensor_lat) == (T0, "M1", 11, None)
    assert pose.sensor_lon == pytest.approx(128.426759, abs=1e-6)
    assert p.values[300] == b"\xaa"
    assert pose.camera_pose() is None  # angles missing


def _two(sep: bytes = b"") -> bytes:
    return encode([(3, b"a")]) + sep + encode([(3, b"b")])


GOOD = encode([(3, b"x")])


@pytest.mark.parametrize(("data", "n_packets", "n_ok", "skipped", "malformed"), [
    pytest.param(b"", 0, 0, 0, 0, id="empty"),
    pytest.param(b"\x00\x01garbage", 0, 0, 9, 0, id="garbage-only"),
    pytest.param(UAS_LS_KEY, 0, 0, 16, 1, id="key-alone"),
    pytest.param(UAS_LS_KEY + b"\x80", 0, 0, 17, 1, id="indefinite-length"),
    pytest.param(_two(), 2, 2, 0, 0, id="two-packets"),
    pytest.param(_two(b"junk\x06\x0e"), 2, 2, 6, 0, id="garbage-between"),
    pytest.param(b"lead" + GOOD + b"tail", 1, 1, 8, 0, id="garbage-around"),
    pytest.param(GOOD[:-5], 0, 0, len(GOOD) - 5, 1, id="truncated"),
    pytest.param(GOOD[:-5] + GOOD, 1, 1, len(GOOD) - 5, 1, id="truncated-then-good"),
    pytest.param(encode([(3, b"x")], long_len=True), 1, 1, 0, 0, id="ber-long-form"),
    pytest.param(encode([(3, b"x" * 300)]), 1, 1, 0, 0, id="ber-long-form-needed"),
    pytest.param(encode([(3, b"x")], bad_checksum=True), 1, 0, 0, 0, id="bad-checksum-kept"),
    pytest.param(encode([(3, b"x")], with_checksum=False), 1, 0, 0, 0, id="no-checksum"),
    pytest.param(UAS_LS_KEY + b"\x03\x03\x05x", 0, 0, 20, 1, id="item-overruns-packet"),
    pytest.param(UAS_LS_KEY + b"\x02\x81\xff", 0, 0, 19, 1, id="tag-without-length"),
])
def test_scan_framing(data: bytes, n_packets: int, n_ok: int, skipped: int, malformed: int) -> None:
    s = scan(data)
    assert len(s.packets) == n_packets
    assert sum(p.checksum_ok for p in s.packets) == n_ok
    assert (s.skipped_bytes, s.malformed_packets) == (skipped, malformed)
    assert [p.offset for p in iter_packets(data)] == [p.offset for p in s.packets]


def test_bad_checksum_reported_with_both_values() -> None:
    data = encode([(5, b"\x12\x34")], bad_checksum=True)
    [p] = iter_packets(data)
    assert not p.checksum_ok
    assert p.checksum_computed is not None and p.checksum_stored == p.checksum_computed ^ 0xFFFF
    assert p.number(5) == pytest.approx(0x1234 * 360 / 65535)


def test_checksum_counts_odd_tail_as_high_byte() -> None:
    assert checksum(b"") == 0
    assert checksum(b"\xff\xff\x00\x02") == 1
    assert checksum(b"\x01") == 0x0100


def test_multi_byte_tag() -> None:
    data = encode([(0x81 * 128 + 5, b"\x07")])
    assert ber_oid(0x81 * 128 + 5)[:1] == b"\x81"
    [p] = iter_packets(data)
    assert p.checksum_ok and p.values[0x81 * 128 + 5] == b"\x07"


def test_packet_to_dict_is_json_ready() -> None:
    data = encode([(2, T0_US.to_bytes(8, "big")), (13, bytes.fromhex("80000000")), (77, b"\x01\x02")],
                  bad_checksum=True)
    d = packet_to_dict(next(iter_packets(data)))
    assert d["checksum"] == "bad"
    assert d["sensor_lat"] is None
    assert d["precision_time"] == "2012-09-19T20:40:44.105300Z"
    assert d["tag_77"] == "0102"
    assert json.loads(json.dumps(d)) == d


def test_doctests() -> None:
    assert doctest.testmod(klv).failed == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_and_all_bytes_accounted(data: bytes) -> None:
    s = scan(data)
    assert sum(p.size for p in s.packets) + s.skipped_bytes == len(data)
    for p in s.packets:
        json.dumps(packet_to_dict(p))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 100), st.binary(max_size=12)), max_size=12),
       st.data())
def test_mutated_packets_never_raise(items: list[tuple[int, bytes]], draw: st.DataObject) -> None:
    data = bytearray(encode(items) + encode([(2, bytes(8))]))
    for _ in range(draw.draw(st.integers(0, 4))):
        i = draw.draw(st.integers(0, len(data) - 1))
        data[i] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(0, len(data)))
    s = scan(bytes(data[:cut]))
    assert sum(p.size for p in s.packets) + s.skipped_bytes == cut
    for p in s.packets:
        p.pose()
        json.dumps(packet_to_dict(p))
