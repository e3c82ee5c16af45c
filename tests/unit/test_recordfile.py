"""MQTT recordings (.jsonl): the line format, each kind of bad line, and the order they are read in."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.mqtt import recordfile
from routewatch.ingest.mqtt.recordfile import BadLine, decode, encode, index, is_recording, messages
from routewatch.model import InboundMessage

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
POS = {"subject_id": "s1", "class": "person", "time": "2026-03-01T22:00:00Z", "lon": 10.0, "lat": 50.0}


def line(**doc: object) -> bytes:
    return json.dumps(doc).encode()


GOOD = line(topic="routewatch/v1/pos/cam-a", received_at="2026-03-01T22:00:00Z", payload=POS)


@pytest.mark.parametrize(("raw", "topic", "payload", "at"), [
    (GOOD, "routewatch/v1/pos/cam-a", POS, T0),
    (line(topic="t/a", received_at="2026-03-01T23:00:00.250+01:00", payload=[1, "x"]), "t/a", [1, "x"],
     T0 + timedelta(seconds=0.25)),
    (line(topic="t/a", received_at="2026-03-01t22:00:00z", payload=None), "t/a", None, T0),
    (line(topic="t/b", received_at="2026-03-01T22:00:00Z", payload=POS, retain=True), "t/b", POS, T0),  # extra key
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z", payload_b64=base64.b64encode(b"\xff\x00").decode()),
     "t/a", b"\xff\x00", T0),
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z", payload_b64=""), "t/a", b"", T0),
    (b'{"topic": "t/a", "received_at": "2026-03-01T22:00:00Z", "payload": {"v": NaN}}', "t/a", {"v": "NaN"}, T0),
])
def test_good_lines(raw, topic, payload, at):
    msg = decode(raw, 1)
    assert isinstance(msg, InboundMessage)
    assert (msg.topic, msg.received_at, msg.token, msg.retain) == (topic, at, 0, False)
    if isinstance(payload, bytes):
        assert msg.payload == payload
    elif payload == {"v": "NaN"}:  # handed on as written, for the payload parser to refuse as live
        assert msg.payload == b'{"v": NaN}'
    else:  # the value's text as it stands in the line
        assert msg.payload == json.dumps(payload).encode()


@pytest.mark.parametrize(("raw", "reason", "topic", "timed"), [
    (b"", "not JSON (Expecting value: line 1 column 1 (char 0))", None, False),
    (b"{not json", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
     None, False),
    (b'{"topic": "t/a", "received_at": "2026-03-01T22:00:00Z", "payload": {}', "not JSON", None, False),
    (b"\xff\xfe{}", "not UTF-8 (invalid start byte at byte 0)", None, False),
    (b"[1, 2]", "not a JSON object but a list", None, False),
    (b'"topic"', "not a JSON object but a str", None, False),
    (line(received_at="2026-03-01T22:00:00Z", payload={}), "missing topic", None, False),
    (line(topic="t/a", payload={}), "missing received_at", "t/a", False),
    (line(payload={}), "missing topic and received_at", None, False),
    (line(topic="", received_at="2026-03-01T22:00:00Z", payload={}), 'topic must be a non-empty string, not ""',
     None, False),
    (line(topic=7, received_at="2026-03-01T22:00:00Z", payload={}), "topic must be a non-empty string, not 7",
     None, False),
    (line(topic="t/a", received_at="yesterday", payload={}), "received_at 'yesterday' is not an RFC 3339 date-time",
     "t/a", False),
    (line(topic="t/a", received_at="2026-03-01T22:00:00", payload={}),
     "received_at '2026-03-01T22:00:00' has no time zone (Z or an offset)", "t/a", False),
    (line(topic="t/a", received_at="2026-02-30T22:00:00Z", payload={}),
     "received_at '2026-02-30T22:00:00Z': day is out of range for month", "t/a", False),
    (line(topic="t/a", received_at=1772402400, payload={}), "received_at must be an RFC 3339 string, not 1772402400",
     "t/a", False),
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z"), "needs one of payload or payload_b64", "t/a", True),
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z", payload={}, payload_b64=""),
     "has both payload and payload_b64", "t/a", True),
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z", payload_b64="not base64!"), "bad payload_b64", "t/a",
     True),
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z", payload_b64="QUJ"), "bad payload_b64", "t/a", True),
    (line(topic="t/a", received_at="2026-03-01T22:00:00Z", payload_b64=[1]), "bad payload_b64", "t/a", True),
])
def test_bad_lines(raw, reason, topic, timed):
    bad = decode(raw, 12)
    assert isinstance(bad, BadLine)
    assert bad.reason.startswith(f"line 12: {reason}"), bad.reason
    assert (bad.line, bad.topic, bad.size_bytes, bad.excerpt) == (12, topic, len(raw),
                                                                    raw.decode("utf-8", errors="replace"))
    assert bad.received_at == (T0 if timed else None)


@pytest.mark.parametrize("payload", [
    b'{"subject_id":"s1","lon":10.5}', b"[]", b'"text"', b"null", b"{}", b'{"a":"\\u00e9\xc3\xa9"}',
    b"\x00\x01\xffbinary", b"", b"{not json", b'{"v": NaN}', b'{"v": 1e400}', b"\xef\xbb\xbf{}", b"\xff",
    b"{}\n{}", "é".encode("latin-1"), b'{ "a" :\t[1 , 2.50] }', b' {"a": 1}', b'{"a":\n1}', b'{"a": 1}\r',
    b'{"payload_b64": "x", "payload": 1}', b'"\\u2028' + "\u2028".encode() + b'"', b"1" * 5000,
    b"[" * 2000 + b"]" * 2000,
])
def test_encode_then_decode_gives_the_message_back(payload):
    msg = InboundMessage("routewatch/v1/det/cam-b", payload, T0 + timedelta(microseconds=5))
    raw = encode(msg)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1  # one line, whatever the payload
    got = decode(raw.rstrip(b"\n"), 1)
    assert isinstance(got, InboundMessage)
    assert (got.topic, got.received_at) == (msg.topic, msg.received_at)
    assert got.payload == payload  # byte for byte, JSON or not


@pytest.mark.parametrize(("payload", "kept_as"), [
    (b'{"a": 1}', "payload"), (b"[1,2]", "payload"), (b"0", "payload"), (b"\x00\xff", "payload_b64"),
    (b"{bad", "payload_b64"), (b'{"v": NaN}', "payload_b64"), (b"\xef\xbb\xbf{}", "payload_b64"),
    (b"", "payload_b64"), (b'{"a":\n1}', "payload_b64"), (b" 1", "payload_b64"), (b"1" * 5000, "payload_b64"),
])
def test_json_payloads_stay_readable(payload, kept_as):
    raw = encode(InboundMessage("t", payload, T0))
    doc = json.loads(raw)  # a line any JSON reader takes
    assert set(doc) == {"topic", "received_at", kept_as}
    assert doc["received_at"] == "2026-03-01T22:00:00Z"
    if kept_as == "payload":
        assert raw == b'{"topic":"t","received_at":"2026-03-01T22:00:00Z","payload":' + payload + b"}\n"


@dataclass
class Read:
    """A recording indexed, then read in order."""

    messages: list[InboundMessage]
    sizes: list[int]
    bad: tuple[BadLine, ...]
    lines: int
    index: recordfile.Index


def read_bytes(data: bytes, limit: int = recordfile.MAX_LINE_BYTES) -> Read:
    f = io.BytesIO(data)
    idx = index(f, limit)
    got = list(messages(f, idx))
    assert idx.size_bytes == len(data)
    return Read([m for m, _ in got], [s for _, s in got], idx.bad, idx.lines, idx)


def rec(*lines: bytes, limit: int = recordfile.MAX_LINE_BYTES) -> Read:
    return read_bytes(b"\n".join(lines), limit)


def msg_line(topic: str, seconds: float, n: int) -> bytes:
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    return line(topic=topic, received_at=at, payload={"n": n})


@pytest.mark.parametrize(("lines", "order"), [
    ((), []),
    ((b"",), []),
    ((msg_line("a", 0, 1),), [1]),
    ((msg_line("a", 2, 1), msg_line("a", 1, 2), msg_line("a", 0, 3)), [3, 2, 1]),
    # ties keep the file's order, whichever topic
    ((msg_line("b", 1, 1), msg_line("a", 0, 2), msg_line("a", 1, 3), msg_line("b", 1, 4), msg_line("c", 0, 5)),
     [2, 5, 1, 3, 4]),
    ((msg_line("a", 0, 1), b"", b"   ", msg_line("a", 0, 2)), [1, 2]),  # blank lines are skipped
    ((msg_line("a", 1, 1), b"junk", msg_line("a", 0, 2)), [2, 1]),
])
def test_messages_come_in_received_at_order_ties_stable(lines, order):
    got = rec(*lines)
    assert [json.loads(m.payload)["n"] for m in got.messages] == order
    assert got.lines == (len(lines) if b"\n".join(lines) else 0)
    assert len(got.sizes) == len(got.messages)
    assert got.index.latest == max((m.received_at for m in got.messages), default=None)


def test_empty_file():
    got = read_bytes(b"")
    assert (got.messages, got.bad, got.sizes, got.lines, got.index.latest) == ([], (), [], 0, None)


def test_bad_lines_are_counted_and_timed_from_their_neighbours():
    got = rec(b"junk-0", msg_line("a", 5, 1), b"junk-2", line(topic="a", received_at="2026-03-01T22:00:09Z"),
              b"junk-4", msg_line("a", 3, 2), b"junk-6")
    assert [b.line for b in got.bad] == [1, 3, 4, 5, 7]
    # before any good line: the first good line's time; after: the last good line's (in the file), or its own
    assert [b.received_at for b in got.bad] == [T0 + timedelta(seconds=s) for s in (5, 5, 9, 5, 3)]
    assert [json.loads(m.payload)["n"] for m in got.messages] == [2, 1]
    assert got.lines == 7


def test_a_file_of_bad_lines_only_leaves_them_untimed():
    got = rec(b"junk", b"[1]")
    assert [(b.line, b.received_at) for b in got.bad] == [(1, None), (2, None)]
    dead = recordfile.dead_letter(got.bad[0], "night.jsonl", T0)
    assert (dead.topic, dead.received_at, dead.payload_excerpt, dead.size_bytes) == ("night.jsonl:1", T0, "junk", 4)
    assert dead.reason.startswith("bad recording line: night.jsonl line 1: not JSON")


def padded(n: int, size: int) -> bytes:
    """A good line of exactly `size` bytes (newline not counted)."""
    head = line(topic="a", received_at=T0.isoformat(), payload={"n": n}, pad="")
    assert size >= len(head)
    return head[:-2] + b"x" * (size - len(head)) + b'"}'


@pytest.mark.parametrize(("sizes", "limit", "bad_at"), [
    ((100, 100), 100, []),
    ((100, 101, 100), 100, [2]),  # the limit is on the line without its newline
    ((100, 300_000, 100), 1000, [2]),  # read past in chunks, never held whole
    ((300_000,), 1000, [1]),
    ((100, 2000), 1000, [2]),  # the last line, without a newline
])
def test_over_long_lines_are_bad_and_the_rest_is_read(sizes, limit, bad_at):
    got = rec(*(padded(i, size) for i, size in enumerate(sizes)), limit=limit)
    assert [b.line for b in got.bad] == bad_at
    assert all(b.reason == f"line {b.line}: longer than {limit:,} bytes ({sizes[b.line - 1] + (b.line < len(sizes)):,})"
               "; not read" and b.excerpt == "" for b in got.bad), got.bad
    assert [json.loads(m.payload)["n"] for m in got.messages] == [i for i in range(len(sizes)) if i + 1 not in bad_at]


def test_crlf_and_sizes():
    got = read_bytes(GOOD + b"\r\n" + GOOD + b"\n")
    assert len(got.messages) == 2 and not got.bad
    assert got.sizes == [len(GOOD) + 2, len(GOOD) + 1]


@pytest.mark.parametrize(("head", "want"), [
    (GOOD + b"\n", True),
    (GOOD, True),
    (GOOD + b"\n{cut", True),
    (b'{"topic": "t", "received_at": 0}', True),  # a recording, if with bad lines: analyze reports them
    (b'{"topic": "t"}\n', False),
    (b'{"type": "FeatureCollection", "features": []}', False),
    (b'{"subject_id": "s1"}', False),
    (b"", False),
    (b"\xfe\x09\x00\x01\x01\x00", False),
    (b"[" + GOOD + b"]", False),
])
def test_is_recording_sniffs_the_first_line(head, want):
    assert is_recording(head) is want


@pytest.mark.parametrize(("payload", "frame", "want"), [
    (256, 1024, recordfile.MAX_LINE_BYTES),
    (65536, 2_000_000, 4 * 666_667 + 4096),
    (16_777_216, 1024, 4 * 5_592_406 + 4096),
])
def test_line_limit_makes_room_for_the_largest_message(payload, frame, want):
    assert recordfile.line_limit(MqttInputConfig(max_payload_bytes=payload, max_frame_bytes=frame)) == want


def test_received_at_is_read_as_strictly_as_the_payloads_times():
    from routewatch.ingest.mqtt import payloads

    assert recordfile._RFC3339.pattern == payloads._RFC3339.pattern


def test_a_recording_changed_between_index_and_read_is_refused_not_misread():
    data = msg_line("a", 1, 1) + b"\n" + msg_line("a", 0, 2) + b"\n"
    f = io.BytesIO(data)
    idx = index(f)
    f.seek(0)
    f.write(b"X")  # the first line is no longer JSON
    with pytest.raises(ValueError, match="recording changed while it was read: the line at byte 0 is no longer"):
        list(messages(f, idx))


def test_many_lines_out_of_order_come_out_sorted_with_ties_in_file_order():
    order = [(i * 7919) % 1000 // 3 for i in range(1000)]  # a shuffle with every time three or four times
    got = rec(*(msg_line("a", t, i) for i, t in enumerate(order)))
    want = sorted(range(1000), key=lambda i: order[i])  # sorted() is stable
    assert [json.loads(m.payload)["n"] for m in got.messages] == want


@pytest.mark.parametrize("module", [recordfile, "routewatch.app.record"])
def test_the_doctests_hold(module):
    import doctest
    import importlib

    mod = importlib.import_module(module) if isinstance(module, str) else module
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("name", "content", "want"), [
    ("night.jsonl", GOOD + b"\n", True),
    ("night.txt", GOOD + b"\n", True),  # by content, whatever the name
    ("night.jsonl", b"", True),  # an empty recording
    ("night.txt", b"", False),
    ("night.jsonl", b"\x00\x00garbage\n" + GOOD + b"\n", True),  # the first line is the bad one
    ("night.JSONL", b"{cut\n" + GOOD, True),
    ("night.txt", b"{cut\n" + GOOD + b"\n", False),
    ("night.jsonl", b'{"subject_id": "s1"}\n' * 3, False),
    ("night.jsonl", b"x" * 70_000 + b"\n" + GOOD + b"\n", False),  # nothing whole in the first 64 KiB
])
def test_is_recording_file(tmp_path, name, content, want):
    path = tmp_path / name
    path.write_bytes(content)
    assert recordfile.is_recording_file(path) is want
