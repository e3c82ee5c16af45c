"""MISB ST 0601 (UAS Datalink Local Set) KLV packets: bytes in, decoded values out. Pure.

Never raises on bad input: garbage between packets and truncated or malformed packets are
skipped and counted (`scan`), a packet whose checksum fails is kept and flagged, and the
values the standard reserves as "out of range" decode to None. The checksum (tag 1) covers the
packet from the first key byte through the checksum item's tag and length bytes.

>>> [p.checksum_ok for p in iter_packets(bytes.fromhex("060E2B34020B01010E01030101000000"
...                                                    "07 0301 41 0102 4F96"))]
[True]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from routewatch.model import CameraPose

UAS_LS_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")
CHECKSUM_TAG = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

KlvValue = float | int | str | datetime | bytes | None


@dataclass(frozen=True, slots=True)
class TagSpec:
    """How one tag's value decodes: uint/int (scaled to lo..hi), sint/count (plain), str, time or raw."""

    name: str
    kind: str
    lo: float = 0.0
    hi: float = 0.0


def _u(name: str, lo: float, hi: float) -> TagSpec:
    return TagSpec(name, "uint", lo, hi)


def _s(name: str, half_range: float) -> TagSpec:
    return TagSpec(name, "int", -half_range, half_range)


_ALT = (-900.0, 19000.0)
TAGS: Mapping[int, TagSpec] = MappingProxyType({
    1: TagSpec("checksum", "count"), 2: TagSpec("precision_time", "time"), 3: TagSpec("mission_id", "str"),
    4: TagSpec("platform_tail_number", "str"), 5: _u("platform_heading_deg", 0.0, 360.0),
    6: _s("platform_pitch_deg", 20.0), 7: _s("platform_roll_deg", 50.0),
    8: _u("platform_true_airspeed_m_s", 0.0, 255.0), 9: _u("platform_indicated_airspeed_m_s", 0.0, 255.0),
    10: TagSpec("platform_designation", "str"), 11: TagSpec("image_source_sensor", "str"),
    12: TagSpec("image_coordinate_system", "str"), 13: _s("sensor_lat", 90.0), 14: _s("sensor_lon", 180.0),
    15: _u("sensor_alt_m", *_ALT), 16: _u("hfov_deg", 0.0, 180.0), 17: _u("vfov_deg", 0.0, 180.0),
    18: _u("sensor_rel_az_deg", 0.0, 360.0), 19: _s("sensor_rel_el_deg", 180.0),
    20: _u("sensor_rel_roll_deg", 0.0, 360.0), 21: _u("slant_range_m", 0.0, 5_000_000.0),
    22: _u("target_width_m", 0.0, 10_000.0), 23: _s("frame_centre_lat", 90.0), 24: _s("frame_centre_lon", 180.0),
    25: _u("frame_centre_elev_m", *_ALT),
    **{26 + i: _s(f"corner{i // 2 + 1}_d{'lon' if i % 2 else 'lat'}", 0.075) for i in range(8)},
    34: TagSpec("icing_detected", "count"), 35: _u("wind_direction_deg", 0.0, 360.0),
    36: _u("wind_speed_m_s", 0.0, 100.0), 37: _u("static_pressure_mbar", 0.0, 5000.0), 38: _u("density_alt_m", *_ALT),
    39: TagSpec("outside_air_temp_c", "sint"), 40: _s("target_lat", 90.0), 41: _s("target_lon", 180.0),
    42: _u("target_elev_m", *_ALT), 45: _u("target_ce90_m", 0.0, 4095.0), 46: _u("target_le90_m", 0.0, 4095.0),
    47: TagSpec("generic_flags", "count"), 48: TagSpec("security_local_set", "raw"),
    49: _u("differential_pressure_mbar", 0.0, 5000.0), 50: _s("platform_angle_of_attack_deg", 20.0),
    51: _s("platform_vertical_speed_m_s", 180.0), 52: _s("platform_sideslip_deg", 20.0),
    53: _u("airfield_pressure_mbar", 0.0, 5000.0), 54: _u("airfield_elev_m", *_ALT),
    55: _u("relative_humidity_pct", 0.0, 100.0), 56: _u("platform_ground_speed_m_s", 0.0, 255.0),
    57: _u("ground_range_m", 0.0, 5_000_000.0), 58: _u("platform_fuel_remaining_kg", 0.0, 10_000.0),
    59: TagSpec("platform_call_sign", "str"), 64: _u("platform_magnetic_heading_deg", 0.0, 360.0),
    65: TagSpec("version", "count"), 67: _s("alternate_platform_lat", 90.0), 68: _s("alternate_platform_lon", 180.0),
    69: _u("alternate_platform_alt_m", *_ALT), 70: TagSpec("alternate_platform_name", "str"),
    71: _u("alternate_platform_heading_deg", 0.0, 360.0), 72: TagSpec("event_start_time", "time"),
    75: _u("sensor_ellipsoid_height_m", *_ALT), 76: _u("alternate_platform_ellipsoid_height_m", *_ALT),
    78: _u("frame_centre_hae_m", *_ALT), 79: _s("sensor_north_velocity_m_s", 327.0),
    80: _s("sensor_east_velocity_m_s", 327.0),
    **{82 + i: _s(f"corner{i // 2 + 1}_{'lon' if i % 2 else 'lat'}", 180.0 if i % 2 else 90.0) for i in range(8)},
    90: _s("platform_pitch_full_deg", 90.0), 91: _s("platform_roll_full_deg", 90.0),
    92: _s("platform_angle_of_attack_full_deg", 90.0), 93: _s("platform_sideslip_full_deg", 180.0),
})


def decode_value(tag: int, raw: bytes) -> KlvValue:
    """One tag's value per ST 0601; unknown tags stay raw, reserved out-of-range values are None.

    >>> decode_value(13, bytes.fromhex("80000000")) is None
    True
    >>> decode_value(5, bytes.fromhex("FFFF"))
    360.0
    >>> decode_value(200, b"\\x01")
    b'\\x01'
    """
    spec = TAGS.get(tag)
    if spec is None or spec.kind == "raw":
        return raw
    if spec.kind == "str":
        return raw.decode("utf-8", errors="replace")
    if not raw or len(raw) > 8:
        return None
    if spec.kind in ("count", "sint"):
        return int.from_bytes(raw, "big", signed=spec.kind == "sint")
    if spec.kind == "time":
        try:
            return EPOCH + timedelta(microseconds=int.from_bytes(raw, "big"))
        except OverflowError:
            return None
    bits = 8 * len(raw)
    if spec.kind == "uint":
        n = int.from_bytes(raw, "big")
        return spec.lo + n * (spec.hi - spec.lo) / ((1 << bits) - 1)
    n = int.from_bytes(raw, "big", signed=True)
    if n == -(1 << (bits - 1)):
        return None
    return n * spec.hi / ((1 << (bits - 1)) - 1)


def read_ber_length(data: bytes, pos: int) -> tuple[int, int] | None:
    """A BER length at pos: (length, position after it), or None when cut short or invalid.

    >>> read_ber_length(bytes([0x7F]), 0), read_ber_length(bytes([0x82, 0x01, 0x00]), 0)
    ((127, 1), (256, 3))
    """
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 8 or pos + 1 + count > len(data):
        return None
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def read_ber_oid(data: bytes, pos: int) -> tuple[int, int] | None:
    """A BER-OID tag at pos (7 bits a byte, high bit = more follows): (tag, position after it)."""
    tag = 0
    for i in range(pos, min(len(data), pos + 4)):
        tag = (tag << 7) | (data[i] & 0x7F)
        if data[i] < 0x80:
            return tag, i + 1
    return None


def checksum(data: bytes) -> int:
    """ST 0601 checksum: low 16 bits of the sum of big-endian 16-bit words (odd tail = high byte).

    >>> hex(checksum(bytes([0x01, 0x02, 0x03])))
    '0x402'
    """
    padded = data + b"\x00" if len(data) % 2 else data
    total = sum(int.from_bytes(padded[i : i + 2], "big") for i in range(0, len(padded), 2))
    return total & 0xFFFF


@dataclass(frozen=True, slots=True)
class UasPose:
    """The pose-related fields of one packet; None where absent or out of range."""

    time: datetime | None
    mission_id: str | None
    platform_designation: str | None
    version: int | None
    platform_heading_deg: float | None
    platform_pitch_deg: float | None
    platform_roll_deg: float | None
    sensor_lat: float | None
    sensor_lon: float | None
    sensor_alt_m: float | None
    hfov_deg: float | None
    vfov_deg: float | None
    sensor_rel_az_deg: float | None
    sensor_rel_el_deg: float | None
    sensor_rel_roll_deg: float | None
    frame_centre_lat: float | None
    frame_centre_lon: float | None
    frame_centre_elev_m: float | None
    corner_offsets: tuple[tuple[float | None, float | None], ...]

    def camera_pose(self) -> CameraPose | None:
        """The sensor position and angles for georeferencing, or None when any is missing."""
        parts = (self.sensor_lat, self.sensor_lon, self.sensor_alt_m, self.platform_heading_deg,
                 self.platform_pitch_deg, self.platform_roll_deg, self.sensor_rel_az_deg,
                 self.sensor_rel_el_deg, self.sensor_rel_roll_deg)
        if any(p is None for p in parts):
            return None
        lat, lon, alt, hdg, pitch, roll, az, el, sroll = (float(p) for p in parts if p is not None)
        return CameraPose(lat, lon, alt, hdg, pitch, roll, az, el, sroll)


@dataclass(frozen=True, slots=True)
class KlvPacket:
    """One Local Set packet: where it starts, its checksum verdict and its decoded values by tag."""

    offset: int
    size: int
    checksum_ok: bool
    checksum_stored: int | None
    checksum_computed: int | None
    values: Mapping[int, KlvValue]

    def number(self, tag: int) -> float | None:
        """A numeric tag's value, None when absent, out of range or not a number."""
        v = self.values.get(tag)
        return float(v) if isinstance(v, int | float) else None

    def text(self, tag: int) -> str | None:
        """A string tag's value, None when absent."""
        v = self.values.get(tag)
        return v if isinstance(v, str) else None

    @property
    def time(self) -> datetime | None:
        """Precision time stamp (tag 2) as a tz-aware UTC datetime."""
        v = self.values.get(2)
        return v if isinstance(v, datetime) else None

    def pose(self) -> UasPose:
        """The typed pose fields of this packet."""
        n = self.number
        version = self.values.get(65)
        return UasPose(
            time=self.time, mission_id=self.text(3), platform_designation=self.text(10),
            version=version if isinstance(version, int) else None,
            platform_heading_deg=n(5), platform_pitch_deg=n(6), platform_roll_deg=n(7),
            sensor_lat=n(13), sensor_lon=n(14), sensor_alt_m=n(15), hfov_deg=n(16), vfov_deg=n(17),
            sensor_rel_az_deg=n(18), sensor_rel_el_deg=n(19), sensor_rel_roll_deg=n(20),
            frame_centre_lat=n(23), frame_centre_lon=n(24), frame_centre_elev_m=n(25),
            corner_offsets=tuple((n(26 + 2 * i), n(27 + 2 * i)) for i in range(4)),
        )


@dataclass(frozen=True, slots=True)
class KlvScan:
    """All packets of a byte stream plus what had to be skipped."""

    packets: tuple[KlvPacket, ...]
    skipped_bytes: int
    malformed_packets: int


@dataclass(frozen=True, slots=True)
class _Skip:
    nbytes: int
    malformed: bool


def _parse_items(body: bytes) -> tuple[dict[int, bytes], int | None] | None:
    """Tag -> raw value, and where the checksum value starts in body; None when malformed."""
    items: dict[int, bytes] = {}
    cs_at: int | None = None
    pos = 0
    while pos < len(body):
        tag_end = read_ber_oid(body, pos)
        if tag_end is None:
            return None
        tag, pos = tag_end
        ln = read_ber_length(body, pos)
        if ln is None or ln[1] + ln[0] > len(body):
            return None
        length, pos = ln
        if tag == CHECKSUM_TAG and cs_at is None:
            cs_at = pos
        items.setdefault(tag, body[pos : pos + length])
        pos += length
    return items, cs_at


def _walk(data: bytes) -> Iterator[KlvPacket | _Skip]:
    pos = 0
    while pos < len(data):
        start = data.find(UAS_LS_KEY, pos)
        if start < 0:
            yield _Skip(len(data) - pos, False)
            return
        if start > pos:
            yield _Skip(start - pos, False)
        head = read_ber_length(data, start + len(UAS_LS_KEY))
        parsed = None
        if head is not None and head[1] + head[0] <= len(data):
            body_at, end = head[1], head[1] + head[0]
            parsed = _parse_items(data[body_at:end])
        if head is None or parsed is None:
            nxt = data.find(UAS_LS_KEY, start + 1)
            stop = len(data) if nxt < 0 else nxt
            yield _Skip(stop - start, True)
            pos = stop
            continue
        items, cs_at = parsed
        stored = computed = None
        if cs_at is not None:
            stored = int.from_bytes(items[CHECKSUM_TAG], "big") if len(items[CHECKSUM_TAG]) == 2 else None
            computed = checksum(data[start : body_at + cs_at])
        ok = stored is not None and stored == computed
        nxt = data.find(UAS_LS_KEY, start + 1, end)
        if not ok and nxt >= 0:
            # A cut-off packet whose length runs into the next one: resync on the next key.
            yield _Skip(nxt - start, True)
            pos = nxt
            continue
        values = MappingProxyType({tag: decode_value(tag, raw) for tag, raw in items.items()})
        yield KlvPacket(start, end - start, ok, stored, computed, values)
        pos = end


def iter_packets(data: bytes) -> Iterator[KlvPacket]:
    """Every UAS Local Set packet in a KLV byte stream, in order; bad data is skipped.

    >>> list(iter_packets(b"not klv"))
    []
    """
    for item in _walk(data):
        if isinstance(item, KlvPacket):
            yield item


def scan(data: bytes) -> KlvScan:
    """All packets plus counts of skipped bytes and malformed (truncated, garbled) packets.

    >>> scan(b"\\x00" * 5).skipped_bytes
    5
    """
    packets: list[KlvPacket] = []
    skipped = malformed = 0
    for item in _walk(data):
        if isinstance(item, KlvPacket):
            packets.append(item)
        else:
            skipped += item.nbytes
            malformed += item.malformed
    return KlvScan(tuple(packets), skipped, malformed)


def packet_to_dict(p: KlvPacket) -> dict[str, object]:
    """A JSON-ready view: tag names -> values (None when out of range), times as ISO 8601.

    Unknown tags appear as "tag_<n>" with hex strings; bytes values are hex too.
    """
    out: dict[str, object] = {"offset": p.offset, "checksum": "ok" if p.checksum_ok else "bad",
                              "checksum_stored": p.checksum_stored, "checksum_computed": p.checksum_computed}
    for tag, value in sorted(p.values.items()):
        if tag == CHECKSUM_TAG:
            continue
        name = TAGS[tag].name if tag in TAGS else f"tag_{tag}"
        if isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        out[name] = value.hex() if isinstance(value, bytes) else value
    return out
