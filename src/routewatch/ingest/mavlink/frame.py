"""Fast MAVLink 1/2 framing over tlog records or raw byte streams.

The framer reads each header, decides on the message id first, and only CRC-checks and
unpacks the few ids a handler wants; everything else is skipped by its length. That is
what makes a tlog pass several times faster than pymavlink's parse loop.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from fastcrc import crc16
from pymavlink.dialects.v20 import ardupilotmega as dialect

Handler = Callable[[int, int, int, tuple[Any, ...]], None]
"""Called with (receipt time in µs since the epoch, sysid, compid, payload fields in wire order)."""

V1, V2 = 0xFE, 0xFD
T_MAX_US = 4_102_444_800_000_000  # 2100-01-01: later tlog stamps are corruption
_UNKNOWN, _BAD, _SKIP, _CHECK, _WANT = 0, 1, 2, 3, 4
_TS = struct.Struct(">Q")
_ZEROS = [bytes(i) for i in range(256)]
_SIZES = {"uint8_t": 1, "int8_t": 1, "char": 1, "uint16_t": 2, "int16_t": 2, "uint32_t": 4,
          "int32_t": 4, "float": 4, "uint64_t": 8, "int64_t": 8, "double": 8}


class MavlinkError(Exception):
    """A MAVLink source cannot be used (unreadable file, bad connection URL)."""


def _min_len(cls: Any) -> int:
    """MAVLink 1 payload length: the wire size without the extension fields."""
    ext = len(cls.__init__.__defaults__ or ())  # extension fields are the defaulted arguments
    sizes = [_SIZES[cls.fieldtypes[cls.fieldnames.index(f)]] * max(1, n)
             for f, n in zip(cls.ordered_fieldnames, cls.array_lengths, strict=True)]
    return sum(sizes[: len(sizes) - ext])


_MIN_LEN: dict[int, int] = {mid: _min_len(c) for mid, c in dialect.mavlink_map.items()}
_EXTRA: dict[int, bytes] = {mid: bytes([c.crc_extra]) for mid, c in dialect.mavlink_map.items()}
NAMES: dict[int, str] = {mid: c.msgname for mid, c in dialect.mavlink_map.items()}


@dataclass(slots=True)
class MavlinkStats:
    """Counters of one MAVLink source: what was read, decoded, skipped and dropped (mutable)."""

    bytes_in: int = 0
    decoded: int = 0
    unknown_id: int = 0
    bad_crc: int = 0
    bad_frame: int = 0
    truncated: int = 0
    junk: int = 0
    resyncs: int = 0
    resync_bytes: int = 0
    events: int = 0
    no_fix: int = 0
    no_vehicle_time: int = 0
    invalid_position: int = 0
    ignored: int = 0
    connects: int = 0
    connect_errors: int = 0
    drops: int = 0
    kernel_drops: int = 0
    recv_buffer_bytes: int = 0
    seq_repeats: int = 0
    msg_ids: list[int] = field(default_factory=lambda: [0] * 256, repr=False)
    msg_ids_hi: dict[int, int] = field(default_factory=dict, repr=False)
    # (sysid << 8 | compid) -> [last sequence number, packets received, packets lost]; live links only
    seq: dict[int, list[int]] = field(default_factory=dict, repr=False)

    @property
    def lost(self) -> int:
        """Packets lost on the way, from gaps in the senders' sequence numbers."""
        return sum(v[2] for v in self.seq.values())

    def link_quality(self) -> dict[str, dict[str, int]]:
        """Per sending system/component ("1/1"): packets received and lost (sequence gaps)."""
        return {f"{k >> 8}/{k & 0xFF}": {"received": v[1], "lost": v[2]} for k, v in sorted(self.seq.items())}

    @property
    def messages(self) -> int:
        """Packets framed, whatever became of them."""
        return sum(self.msg_ids) + sum(self.msg_ids_hi.values())

    @property
    def skipped(self) -> int:
        """Well-framed packets of ids we do not use."""
        return self.messages - self.decoded - self.unknown_id - self.bad_crc - self.bad_frame

    @property
    def corrupt(self) -> int:
        """Packets or records that were damaged (bad CRC, impossible header, truncated, datagram junk)."""
        return self.bad_crc + self.bad_frame + self.truncated + self.junk

    def link_report(self) -> dict[str, Any]:
        """Link quality for operators: kernel drops, the receive buffer granted, and per sender received/lost."""
        return {"kernel_drops": self.kernel_drops, "recv_buffer_bytes": self.recv_buffer_bytes,
                "lost": self.lost, "senders": self.link_quality()}

    def by_type(self) -> dict[str, int]:
        """Packets framed per message name (UNKNOWN_<id> for ids the dialect lacks)."""
        counts = [(i, n) for i, n in enumerate(self.msg_ids) if n] + sorted(self.msg_ids_hi.items())
        return {NAMES.get(i, f"UNKNOWN_{i}"): n for i, n in counts}

    def as_dict(self) -> dict[str, Any]:
        """All counters, derived ones included, for logs and JSON."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("msg_ids") and f.name != "seq"
        }
        out.update(messages=self.messages, skipped=self.skipped, corrupt=self.corrupt, by_type=self.by_type(),
                   lost=self.lost, links=self.link_quality())
        return out


def _tables(wanted: frozenset[int], tlog: bool) -> tuple[bytearray, dict[int, int]]:
    """Action per (v1 id, length) and per v2 id: skip, CRC-check only, or decode."""
    other = _SKIP if tlog else _CHECK  # a live stream has no record framing to fall back on
    act1 = bytearray(65536)
    act2: dict[int, int] = {}
    for mid in dialect.mavlink_map:
        code = _WANT if mid in wanted else other
        act2[mid] = code
        if mid < 256:
            lo = _MIN_LEN[mid]
            act1[mid << 8: (mid << 8) + 256] = bytes([_BAD] * lo + [code] * (256 - lo))
    return act1, act2


class Framer:
    """Splits bytes into MAVLink packets and hands the wanted ones to handlers."""

    def __init__(self, stats: MavlinkStats, handlers: Mapping[int, Handler], *, tlog: bool) -> None:
        self.stats = stats
        self._pre = 8 if tlog else 0
        self._act1, self._act2 = _tables(frozenset(handlers), tlog)
        self._wanted = {mid: (_EXTRA[mid], dialect.mavlink_map[mid].unpacker,
                              dialect.mavlink_map[mid].unpacker.size, h) for mid, h in handlers.items()}
        self._synced = True
        # A live link's packets carry an 8-bit sequence number per sender: gaps are lost packets.
        self._track = None if tlog else stats.seq

    def scan(self, buf: bytes, t_us: int = 0, final: bool = False) -> int:
        """Frame packets in buf (tlog records, or a stream received at t_us); return bytes consumed."""
        st = self.stats
        pre = self._pre
        act1, act2, wanted = self._act1, self._act2, self._wanted
        cnt, hi = st.msg_ids, st.msg_ids_hi
        mcrf4xx, unpack_ts = crc16.mcrf4xx, _TS.unpack_from
        n = len(buf)
        ofs = 0
        decoded = 0
        cut = final and not pre  # a datagram: a packet can never continue in the next one
        track = self._track
        if not self._synced:  # resuming a search cut short by the end of the last chunk
            ofs, more = self._resync(buf, 0, final, q=0)
            if more:
                return ofs
        while True:
            h = ofs + pre
            if h + 6 > n:
                break
            mk = buf[h]
            if mk == V1:
                length = buf[h + 1]
                end = h + 8 + length
                if end > n:
                    if not cut:
                        break
                    ofs, more = self._cut(buf, ofs)
                    if more:
                        break
                    continue
                mid = buf[h + 5]
                cnt[mid] += 1
                a = act1[(mid << 8) | length]
                if a == _SKIP:
                    ofs = end
                    continue
                p = h + 6
                s = h + 3
            elif mk == V2:
                length = buf[h + 1]
                flags = buf[h + 2]
                end = h + 12 + length + (13 if flags & 1 else 0)
                if h + 10 > n or end > n:
                    if not cut:
                        break
                    ofs, more = self._cut(buf, ofs)
                    if more:
                        break
                    continue
                mid = buf[h + 7] | buf[h + 8] << 8 | buf[h + 9] << 16
                if mid < 256:
                    cnt[mid] += 1
                else:
                    hi[mid] = hi.get(mid, 0) + 1
                a = _BAD if flags & 0xFE else act2.get(mid, _UNKNOWN)
                if a == _SKIP:
                    ofs = end
                    continue
                p = h + 10
                s = h + 5
            else:
                if cut and self._synced:  # bytes that start no packet: one refusal per run of them
                    st.junk += 1
                ofs, more = self._resync(buf, ofs, final)
                if more:
                    break
                continue
            if a >= _CHECK:
                c = p + length
                if a == _WANT:
                    extra, unpacker, size, handler = wanted[mid]
                else:
                    extra = _EXTRA[mid]
                if mcrf4xx(extra, mcrf4xx(buf[h + 1: c])) != buf[c] | buf[c + 1] << 8:
                    ofs, more = self._damaged(buf, ofs, end, mid, final, crc=True)
                    if more:
                        break
                    continue
                if track is not None:
                    self._sequence(buf[s - 1], buf[s] << 8 | buf[s + 1], new=True)
                if a == _CHECK:
                    ofs = end
                    continue
                t = unpack_ts(buf, ofs)[0] if pre else t_us
                if t > T_MAX_US:  # a corrupt record stamp
                    st.bad_frame += 1
                    ofs, more = self._resync(buf, ofs, final)
                    if more:
                        break
                    continue
                if length >= size:
                    vals = unpacker.unpack_from(buf, p)
                else:  # MAVLink 2 trims trailing zeros; MAVLink 1 omits extensions
                    vals = unpacker.unpack(buf[p:c] + _ZEROS[size - length])
                handler(t, buf[s], buf[s + 1], vals)
                decoded += 1
                ofs = end
            elif a == _UNKNOWN:
                st.unknown_id += 1
                if track is not None:  # unverifiable (no CRC extra): it may advance a known sender only
                    self._sequence(buf[s - 1], buf[s] << 8 | buf[s + 1], new=False)
                ofs = end
            else:
                ofs, more = self._damaged(buf, ofs, end, mid, final, crc=False)
                if more:
                    break
        st.decoded += decoded
        if final and ofs < n:
            st.truncated += 1
            ofs = n
        return ofs

    def _sequence(self, seq: int, key: int, *, new: bool) -> None:
        """Count a packet of sender `key` and the packets missing before it, as ground stations do."""
        got = self.stats.seq.get(key)
        if got is None:
            if new:
                self.stats.seq[key] = [seq, 1, 0]
            return
        gap = (seq - got[0] - 1) & 0xFF
        got[0] = seq
        got[1] += 1
        # As QGroundControl and pymavlink count: any gap is loss (modulo 256, so a run of more than
        # 255 lost in a row is undercounted), except the same number again, which is a repeat.
        if gap == 255:
            self.stats.seq_repeats += 1
        else:
            got[2] += gap

    def scan_datagram(self, buf: bytes, t_us: int) -> None:
        """Frame the packets of one datagram on its own: junk or a cut packet in it never reaches the next."""
        self._synced = True
        self.scan(buf, t_us, final=True)
        self._synced = True

    def _cut(self, buf: bytes, ofs: int) -> tuple[int, bool]:
        """A datagram's packet header claims more bytes than the datagram holds: refuse it, look further."""
        self.stats.truncated += 1
        return self._resync(buf, ofs, True)

    def _damaged(self, buf: bytes, ofs: int, end: int, mid: int, final: bool, *, crc: bool) -> tuple[int, bool]:
        """Count a bad packet and decide where the next one starts."""
        st = self.stats
        # trust the length (a flipped payload byte, another dialect's packet) if a good packet follows
        nxt = self._candidate(buf, end, follow=True) if end < len(buf) else -1
        if nxt < 0 and self._synced and not (self._pre or final):
            # a stream can tell only once more bytes arrive: take this packet again then
            if mid < 256:
                st.msg_ids[mid] -= 1
            else:
                st.msg_ids_hi[mid] -= 1
            return ofs, True
        if self._synced or self._pre:
            if crc:
                st.bad_crc += 1
            else:
                st.bad_frame += 1
            if nxt == 1 or (nxt < 0 and self._pre):
                return end, False
        return self._resync(buf, ofs, final)

    def _resync(self, buf: bytes, ofs: int, final: bool, q: int | None = None) -> tuple[int, bool]:
        """Skip to the next plausible packet after ofs (from q); return (offset, need more data)."""
        st = self.stats
        if self._synced:
            st.resyncs += 1
            self._synced = False
        pre, n = self._pre, len(buf)
        q = ofs + 1 if q is None else q
        while True:
            i1, i2 = buf.find(b"\xfe", q + pre), buf.find(b"\xfd", q + pre)
            i = min(i1, i2) if i1 >= 0 and i2 >= 0 else max(i1, i2)
            if i < 0:
                keep = n if final else max(q, n - pre)
                st.resync_bytes += keep - ofs
                return keep, True
            q = i - pre
            r = self._candidate(buf, q, follow=True)
            if r == 1 or (r < 0 and not final):
                st.resync_bytes += q - ofs
                self._synced = r == 1
                return q, r < 0
            q += 1

    def _candidate(self, buf: bytes, q: int, *, follow: bool) -> int:
        """Whether a verifiable packet (tlog: record) starts at q: 1 yes, 0 no, -1 need more bytes."""
        pre, n = self._pre, len(buf)
        h = q + pre
        if h >= n:
            return -1
        mk = buf[h]
        hl = 6 if mk == V1 else 10 if mk == V2 else 0
        if not hl:
            return 0
        if h + hl > n:
            return -1
        if pre and _TS.unpack_from(buf, q)[0] > T_MAX_US:
            return 0
        length = buf[h + 1]
        flags = 0 if mk == V1 else buf[h + 2]
        mid = buf[h + 5] if mk == V1 else buf[h + 7] | buf[h + 8] << 8 | buf[h + 9] << 16
        if flags & 0xFE:
            return 0
        c = h + hl + length
        if c + 2 + (13 if flags & 1 else 0) > n:
            return -1
        extra = _EXTRA.get(mid)
        if extra is None:
            # an id we cannot verify is believed when a verifiable record follows it
            if not (pre and follow):
                return 0
            nxt = c + 2 + (13 if flags & 1 else 0)
            return 1 if nxt == n else self._candidate(buf, nxt, follow=False)
        if mk == V1 and length < _MIN_LEN[mid]:
            return 0
        ok = crc16.mcrf4xx(extra, crc16.mcrf4xx(buf[h + 1: c])) == buf[c] | buf[c + 1] << 8
        return 1 if ok else 0
