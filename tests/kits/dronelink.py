"""The rendered drone flight's telemetry as a live link carries it: packets with their times, from its .tlog."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def tlog_packets(path: Path) -> list[tuple[datetime, bytes]]:
    """(record time, packet) of each record of a .tlog of whole, unsigned MAVLink 1 or 2 packets (ours)."""
    data = path.read_bytes()
    out, i = [], 0
    while i < len(data):
        (t_us,) = struct.unpack_from(">Q", data, i)
        magic, length = data[i + 8], data[i + 9]
        assert magic in (0xFD, 0xFE), f"not a packet at byte {i + 8} of {path}"
        if magic == 0xFD:
            assert not data[i + 10] & 1, "signed packets are not split here"
        size = (12 if magic == 0xFD else 8) + length
        out.append((EPOCH + timedelta(microseconds=t_us), data[i + 8:i + 8 + size]))
        i += 8 + size
    return out
