"""MQTT recordings: the traffic of a night as a JSON Lines file, one received message per line.

Each line is one JSON object (UTF-8, ended by a newline)::

    {"topic": "routewatch/v1/pos/cam-a", "received_at": "2026-03-01T22:14:03.120511Z", "payload": {...}}
    {"topic": "routewatch/v1/frames/cam-a", "received_at": "2026-03-01T22:14:03.2Z", "payload_b64": "/9j/4AAQ..."}

- `topic`: the MQTT topic the message came on (a non-empty string).
- `received_at`: when the recorder received it, RFC 3339 with a time zone: the recording's own clock,
  which plays the receiver's clock when the file is analyzed (ordering, and mqtt.input.max_future_s).
- exactly one of `payload` (the message itself, byte for byte as received, when it is UTF-8 JSON that
  fits on one line) or `payload_b64` (the message's bytes in standard base64, for anything else:
  binary, not UTF-8, not JSON, NaN/Infinity, line breaks). A replay hands on the bytes of `payload`
  as they stand in the line, so a hand-written recording may lay its payloads out as it likes.

Other keys are ignored, and blank lines skipped. A line longer than the limit (1 MiB by default, more
where mqtt.input allows larger messages) is not parsed. `decode` turns a line into the `InboundMessage`
the live MQTT link would have made, or a `BadLine` that says what was wrong; `index` reads a whole file
once and puts its lines in `received_at` order (ties keep their order in the file), and `messages`
reads them in that order.

>>> from datetime import UTC, datetime
>>> msg = InboundMessage("routewatch/v1/pos/a", b'{"x":1}', datetime(2026, 3, 1, tzinfo=UTC))
>>> encode(msg)
b'{"topic":"routewatch/v1/pos/a","received_at":"2026-03-01T00:00:00Z","payload":{"x":1}}\\n'
>>> decode(encode(msg), 1) == msg
True
>>> decode(b'{"topic": "a", "received_at": "2026-03-01T00:00:00Z"}', 7).reason
'line 7: needs one of payload or payload_b64'
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from routewatch.config.mqtt import MqttInputConfig
from routewatch.model import DeadLetter, InboundMessage

MAX_LINE_BYTES = 1 << 20
EXCERPT_BYTES = 200
_CHUNK = 1 << 16
_KEYS = ("topic", "received_at")
_WHITESPACE = b" \t\r\n"
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?P<tz>[Zz]|[+-]\d\d:\d\d)?")  # as payloads'
SNIFF_BYTES = 64 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of a recording that is not a message: where it is, why, and the start of it."""

    line: int
    reason: str
    excerpt: str
    size_bytes: int
    topic: str | None = None  # where the line names one
    received_at: datetime | None = None  # where the line has a good one


@dataclass(frozen=True, slots=True)
class Index:
    """A recording read through once: where its good lines are, in received_at order, and what its bad lines are.

    Only offsets are kept (16 bytes a message), so a night of millions of messages is ordered without
    holding it in memory; `messages` reads them in that order.
    """

    offsets: npt.NDArray[np.int64]  # where each good line starts, in received_at order (ties: the file's order)
    sizes: npt.NDArray[np.int64]  # its size in bytes, newline included
    bad: tuple[BadLine, ...]
    lines: int  # lines read, blank ones included
    size_bytes: int
    latest: datetime | None  # the latest received_at of a good line

    def __len__(self) -> int:
        return len(self.offsets)


def line_limit(cfg: MqttInputConfig) -> int:
    """The longest line accepted: 1 MiB, or room for the largest message mqtt.input accepts, base64 encoded."""
    largest = max(cfg.max_payload_bytes, cfg.max_frame_bytes)
    return max(MAX_LINE_BYTES, 4 * math.ceil(largest / 3) + 4096)


def encode(msg: InboundMessage) -> bytes:
    """One recording line for a received message (newline included).

    A JSON payload is written as it came, byte for byte (so a replay sees the very bytes the live link
    saw); one that cannot sit in a line as it is (not UTF-8 or not strict JSON, a BOM, line breaks,
    surrounding white space) goes as payload_b64.
    """
    head = json.dumps({"topic": msg.topic, "received_at": _rfc3339(msg.received_at)}, ensure_ascii=False,
                      separators=(",", ":"))[:-1].encode()
    payload = bytes(msg.payload)
    if _embeddable(payload):
        return head + b',"payload":' + payload + b"}\n"
    return head + b',"payload_b64":"' + base64.b64encode(payload) + b'"}\n'


def decode(raw: bytes, line: int) -> InboundMessage | BadLine:
    """The message a recording line holds (as the live link would have received it), or why it is bad."""
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        return _bad(raw, line, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, and ints longer than Python converts
        return _bad(raw, line, f"not JSON ({_clip(str(exc) or type(exc).__name__)})")
    if not isinstance(doc, dict):
        return _bad(raw, line, f"not a JSON object but a {type(doc).__name__}")
    topic = doc.get("topic")
    topic = topic if isinstance(topic, str) and topic else None
    missing = [k for k in _KEYS if k not in doc]
    if missing:
        return _bad(raw, line, f"missing {' and '.join(missing)}", topic)
    if topic is None:
        return _bad(raw, line, f"topic must be a non-empty string, not {_clip(json.dumps(doc['topic']), 60)}")
    when = _time(doc["received_at"])
    if isinstance(when, str):
        return _bad(raw, line, when, topic)
    has = [k for k in ("payload", "payload_b64") if k in doc]
    if len(has) != 1:
        what = "needs one of payload or payload_b64" if not has else "has both payload and payload_b64"
        return _bad(raw, line, what, topic, when)
    if has == ["payload"]:
        payload = _span(text, "payload").encode()  # as written: the bytes the live link received
    else:
        try:
            payload = base64.b64decode(doc["payload_b64"], validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            return _bad(raw, line, f"bad payload_b64 ({_clip(str(exc), 80)})", topic, when)
    return InboundMessage(topic, payload, when)


def is_recording(head: bytes) -> bool:
    """Whether a file that starts with `head` is a recording: its first line is an object with topic and received_at.

    >>> is_recording(b'{"topic": "t", "received_at": "2026-03-01T00:00:00Z", "payload": {}}\\n{"topic"')
    True
    >>> is_recording(b'\\xfe\\x1c\\x00\\x01'), is_recording(b'{"type": "FeatureCollection"}')
    (False, False)
    """
    first = head.split(b"\n", 1)[0]
    try:
        doc = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and all(k in doc for k in _KEYS)


def is_recording_file(path: Path) -> bool:
    """Whether the file at `path` is a recording: its first line says so (see `is_recording`); for a .jsonl
    file, any whole line of its first 64 KiB (the first line may be the bad one), or it is empty."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if is_recording(head):
        return True
    if path.suffix.lower() != ".jsonl":
        return False
    lines = head.split(b"\n")[1:-1] if len(head) == SNIFF_BYTES else head.split(b"\n")[1:]
    return not head or any(is_recording(line) for line in lines)


def split_lines(f: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number from 1, its bytes without the line end or None if longer than `limit`, its size in bytes).

    An over-long line is skipped without being held in memory.
    """
    number = 0
    while True:
        raw = f.readline(limit + 1)
        if not raw:
            return
        number += 1
        size = len(raw)
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # the rest of the line, a chunk at a time
                raw = f.readline(_CHUNK)
                size += len(raw)
            yield number, None, size
            continue
        yield number, raw.rstrip(b"\r\n"), size


def index(f: IO[bytes], limit: int = MAX_LINE_BYTES, progress: Callable[[int], None] | None = None) -> Index:
    """Read a recording through once (see `split_lines`): its good lines' places in received_at order, its bad lines.

    A bad line without a good time of its own is given the time of the last good line before it (else
    the first after it), so that its dead letter sits where it was in the traffic; `progress(bytes)`
    is called now and then with the bytes read so far.
    """
    times, offsets, sizes = array("q"), array("q"), array("q")
    bad: list[BadLine] = []
    untimed: list[int] = []  # indexes in `bad` of lines before the first good one, without a time of their own
    last: datetime | None = None  # the last good line's time, in file order
    latest: datetime | None = None
    count = done = 0
    for number, raw, size in split_lines(f, limit):
        count, offset, done = number, done, done + size
        got: InboundMessage | BadLine | None = None
        if raw is None:
            got = BadLine(number, f"line {number}: longer than {limit:,} bytes ({size:,}); not read", "", size)
        elif raw.strip():
            got = decode(raw, number)
        if isinstance(got, InboundMessage):
            if last is None:
                bad[:] = [replace(b, received_at=got.received_at) if i in untimed else b for i, b in enumerate(bad)]
            last = got.received_at
            latest = last if latest is None else max(latest, last)
            times.append((last - _EPOCH) // _MICROSECOND)
            offsets.append(offset)
            sizes.append(size)
        elif got is not None:
            if got.received_at is None and last is not None:
                got = replace(got, received_at=last)
            elif got.received_at is None:
                untimed.append(len(bad))
            bad.append(got)
        if progress is not None and number % 4096 == 0:
            progress(done)
    if progress is not None:
        progress(done)
    key = np.frombuffer(times, dtype=np.int64)
    at, length = np.frombuffer(offsets, dtype=np.int64), np.frombuffer(sizes, dtype=np.int64)
    if len(key) > 1 and not bool(np.all(key[1:] >= key[:-1])):  # as recorded, the lines are in order already
        order = np.argsort(key, kind="stable")  # equal times keep the file's order
        at, length = at[order], length[order]
    return Index(at, length, tuple(bad), count, done, latest)


def messages(f: IO[bytes], idx: Index) -> Iterator[tuple[InboundMessage, int]]:
    """The good lines of an indexed recording as messages, in received_at order, each with its line's size."""
    for i in range(len(idx)):
        offset, size = int(idx.offsets[i]), int(idx.sizes[i])
        f.seek(offset)
        got = decode(f.read(size).rstrip(b"\r\n"), 0)
        if not isinstance(got, InboundMessage):  # it was good when indexed: the file changed meanwhile
            raise ValueError(f"recording changed while it was read: the line at byte {offset:,} is no longer "
                             f"a message ({got.reason})")
        yield got, size


def dead_letter(bad: BadLine, name: str, fallback: datetime) -> DeadLetter:
    """The dead letter of a bad line of the recording `name`; `fallback` times it where nothing in the file can."""
    return DeadLetter(bad.topic or f"{name}:{bad.line}", f"bad recording line: {name} {bad.reason}", bad.excerpt,
                      bad.received_at or fallback, bad.size_bytes)


def _embeddable(payload: bytes) -> bool:
    """Whether a payload can be written into a line as it is: strict JSON text, UTF-8, on one line, trimmed."""
    if not payload or payload != payload.strip(_WHITESPACE) or b"\n" in payload or b"\r" in payload:
        return False
    try:
        text = payload.decode("utf-8")
        if text.startswith("\ufeff"):  # not JSON white space: the line would not parse
            return False
        json.loads(text, parse_constant=_refuse)  # NaN and Infinity would make the line itself non-standard
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _span(text: str, key: str) -> str:
    """The text of the value of `key` in the JSON object `text` (already parsed once: well formed; last one wins)."""
    found, i = "", _skip(text, 0) + 1  # past "{"
    i = _skip(text, i)
    while text[i] != "}":
        name, i = _DECODER.raw_decode(text, i)
        start = _skip(text, _skip(text, i) + 1)  # past ":"
        _, i = _DECODER.raw_decode(text, start)
        if name == key:
            found = text[start:i]
        i = _skip(text, i)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return found


def _skip(text: str, i: int) -> int:
    while text[i] in " \t\r\n":
        i += 1
    return i


def _time(value: Any) -> datetime | str:
    """A tz-aware UTC time from an RFC 3339 string, or what is wrong with it."""
    if not isinstance(value, str):
        return f"received_at must be an RFC 3339 string, not {_clip(json.dumps(value), 60)}"
    match = _RFC3339.fullmatch(value)
    if match is None:
        return f"received_at {_clip(value, 60)!r} is not an RFC 3339 date-time (e.g. 2026-03-01T12:00:00Z)"
    if match["tz"] is None:
        return f"received_at {_clip(value, 60)!r} has no time zone (Z or an offset)"
    try:
        t = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError as exc:
        return f"received_at {_clip(value, 60)!r}: {exc}"
    return t.astimezone(UTC)


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _bad(raw: bytes, line: int, what: str, topic: str | None = None, when: datetime | None = None) -> BadLine:
    excerpt = raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    return BadLine(line, f"line {line}: {what}", excerpt, len(raw), topic, when)


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
