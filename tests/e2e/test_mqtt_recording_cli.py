"""`routewatch analyze REC.jsonl` and `routewatch record` through the CLI: bad lines, refusals, --append, --duration."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson
from routewatch.ingest.mqtt.recordfile import encode
from routewatch.model import InboundMessage
from routewatch.store import Store
from tests.kits.mqtt_broker import private_broker

from .mqttkit import CORRIDORS, Report, client, scenario, wait_online, write_config

# (the line, the start of its dead letter's reason); {at}: a time in the recording
BAD_LINES = [
    ("junk", "bad recording line: night.jsonl line {n}: not JSON"),
    ('{{"topic": "routewatch/v1/pos/trk", "payload": {{}}}}',
     "bad recording line: night.jsonl line {n}: missing received_at"),
    ('{{"topic": "routewatch/v1/pos/trk", "received_at": "{at}", "payload": {{}}, "payload_b64": ""}}',
     "bad recording line: night.jsonl line {n}: has both payload and payload_b64"),
    ('{{"topic": "routewatch/v1/pos/trk", "received_at": "{at}", "payload_b64": "%%%"}}',
     "bad recording line: night.jsonl line {n}: bad payload_b64"),
    ('{{"topic": "routewatch/v1/pos/trk", "received_at": "noon", "payload": {{}}}}',
     "bad recording line: night.jsonl line {n}: received_at 'noon' is not an RFC 3339 date-time"),
    ('{{"topic": "t", "received_at": "{at}", "payload": "' + "x" * 3_000_000 + '"}}',
     "bad recording line: night.jsonl line {n}: longer than 2,670,764 bytes"),
]


def bad_lines(at: datetime) -> list[bytes]:
    return [line.format(at=at.isoformat()).encode() for line, _ in BAD_LINES]


def cli(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stdout with stderr."""
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.output


def write_recording(path: Path, reports: list[Report], extra: list[bytes]) -> None:
    """The reports as received at their own time, `extra` lines after the 5th."""
    lines = [encode(InboundMessage(r.topic, r.payload, r.obs.time)) for r in reports]
    lines[5:5] = [x + b"\n" for x in extra]
    path.write_bytes(b"".join(lines))


def test_bad_lines_and_refused_messages_are_dead_letters_and_the_rest_is_analyzed(tmp_path):
    reports = scenario(subjects=3, fixes=150)
    frame = InboundMessage("routewatch/v1/frames/cam-z", json.dumps(
        {"time": "2026-03-01T22:00:00Z", "jpeg": base64.b64encode(b"\xff\xd8\xff").decode()}).encode(),
        reports[0].obs.time)
    refused = InboundMessage("routewatch/v1/pos/trk", b"\xff\x01", reports[0].obs.time)
    rec = tmp_path / "night.jsonl"
    write_recording(rec, reports, [*bad_lines(reports[2].obs.time), encode(frame)[:-1], encode(refused)[:-1], b"  "])
    corridors = tmp_path / "c.geojson"
    corridors.write_text(dumps_geojson(list(CORRIDORS)))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    code, out, log = cli("analyze", str(rec), "--corridors", str(corridors), "--db", db, "--json")
    assert code == 0, log
    summary = json.loads(out)
    assert summary["positions"] == len(reports)
    assert summary["alerts_opened"] == {"cross": 3}
    total = len(reports) + len(BAD_LINES) + 3
    assert {k: summary["ingest"][k] for k in ("recording_lines", "recording_messages", "recording_bad_lines",
                                              "dead_letters")} == {
        "recording_lines": total, "recording_messages": len(reports) + 2, "recording_bad_lines": len(BAD_LINES),
        "dead_letters": len(BAD_LINES) + 2}
    with Store(db) as store:
        dead = store.dead_letters.recent(limit=100)
    reasons = sorted(d.reason for d in dead)
    want = [r.format(n=6 + i) for i, (_, r) in enumerate(BAD_LINES)]
    want += ["bad JSON: not UTF-8", "unknown camera: 'cam-z' is not a camera with `url: mqtt`"]
    assert len(reasons) == len(want)
    assert all(any(r.startswith(w) for r in reasons) for w in want), reasons
    # bad lines are timed by their own received_at, else by the line before them; the refused message by its own
    assert {d.received_at for d in dead} == {reports[0].obs.time, reports[2].obs.time, reports[4].obs.time}
    code, out, log = cli("analyze", str(rec), "--corridors", str(corridors), "--db", db)
    assert code == 0, log
    assert f"{total:,} lines: {len(reports) + 2:,} messages, {len(BAD_LINES)} bad lines" in out
    assert "bad CRC" not in out  # no MAVLink rows for a recording


def test_dead_letters_of_an_old_recording_are_kept(tmp_path):
    """Dead letters are aged by the recording's clock: analyzed today, last month's are not thrown away."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)  # store.dead_letters_max_age_s: 7 days
    rec = tmp_path / "night.jsonl"
    refused = encode(InboundMessage("routewatch/v1/pos/trk", b"{}", at + timedelta(seconds=1)))
    rec.write_bytes(refused + b"\n".join(bad_lines(at)) + b"\n")
    db = f"sqlite:///{tmp_path / 'old.db'}"
    code, out, log = cli("analyze", str(rec), "--db", db, "--json")
    assert code == 0, log
    assert json.loads(out)["ingest"]["dead_letters"] == len(BAD_LINES) + 1
    with Store(db) as store:
        assert store.dead_letters.count() == len(BAD_LINES) + 1


def test_a_recording_whose_first_line_is_bad_is_analyzed(tmp_path):
    reports = scenario(subjects=2, fixes=10)
    rec = tmp_path / "night.jsonl"
    rec.write_bytes(b'{"topic": "routewatch/v1/pos/trk", "rece\n' + b"".join(
        encode(InboundMessage(r.topic, r.payload, r.obs.time)) for r in reports))
    code, out, log = cli("analyze", str(rec), "--db", f"sqlite:///{tmp_path / 'f.db'}", "--json")
    assert code == 0, log
    summary = json.loads(out)
    assert (summary["positions"], summary["ingest"]["recording_bad_lines"]) == (len(reports), 1)


def test_an_empty_recording_is_analyzed_to_nothing(tmp_path):
    rec = tmp_path / "quiet.jsonl"
    rec.write_bytes(b"")
    code, out, log = cli("analyze", str(rec), "--db", f"sqlite:///{tmp_path / 'e.db'}", "--json")
    assert code == 0, log
    assert "no corridors" in log
    summary = json.loads(out)
    assert (summary["positions"], summary["ingest"]["recording_lines"], summary["ingest"]["dead_letters"]) == (0, 0, 0)


GOOD = b'{"topic": "t", "received_at": "2026-03-01T22:00:00Z", "payload": {}}\n'
REFUSED = [
    ("not a recording", "x.jsonl", b'{"subject_id": "s1"}\n', ["analyze", "{f}"],
     "is not an MQTT recording: no line of its start is a JSON object with topic and received_at"),
    ("realtime", "r.jsonl", GOOD, ["analyze", "{f}", "--realtime"],
     "is an MQTT recording: it is analyzed as fast as possible; leave out --realtime"),
    ("json that is no log", "x.json", b'{"subject_id": "s1"}\n', ["analyze", "{f}"],
     "is JSON (or JSON lines), not a MAVLink telemetry log (.tlog), nor an MQTT recording (.jsonl: each line an "
     "object with topic and received_at)"),
    ("overwrite", "night.jsonl", GOOD, ["record", "-c", "{cfg}", "--out", "{f}"],
     "night.jsonl exists: give --append to add to it, or another --out"),
    ("bad topic", "new.jsonl", None, ["record", "-c", "{cfg}", "--out", "{f}", "--topic", "a/#/b"],
     "invalid topic filter(s) 'a/#/b'"),
    ("no topics", "new.jsonl", None, ["record", "-c", "{empty}", "--out", "{f}"], "no topics to record"),
    ("bad duration", "new.jsonl", None, ["record", "-c", "{cfg}", "--out", "{f}", "--duration", "0"],
     "Invalid value for '--duration'"),
]


@pytest.mark.parametrize(("name", "file", "content", "args", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refusals(name, file, content, args, message, tmp_path):
    f = tmp_path / file
    if content is not None:
        f.write_bytes(content)
    cfg = write_config(tmp_path / "rw.yaml", port=1, db_url=f"sqlite:///{tmp_path / 'x.db'}", client_id="rw",
                       journal=tmp_path / "j")
    empty = tmp_path / "empty.yaml"
    empty.write_text(json.dumps({"mqtt": {"input": {"topics": []}}}))
    argv = [a.format(f=f, cfg=cfg, empty=empty) for a in args]
    code, _, out = cli(*argv, *(["--db", f"sqlite:///{tmp_path / 'x.db'}"] if args[0] == "analyze" else []))
    assert code == 2, out
    assert message in " ".join(out.split()), out
    assert (content is None and not f.exists()) or f.read_bytes() == content  # nothing written


@pytest.mark.slow
def test_record_appends_and_stops_after_its_duration(tmp_path):
    rec = tmp_path / "night.jsonl"
    rec.write_bytes(GOOD + b'{"topic": "t", "received')  # a line cut short when the last recorder was killed
    reports = scenario(subjects=2, fixes=5)
    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        cfg = write_config(tmp_path / "rw.yaml", port=broker.port, db_url=f"sqlite:///{tmp_path / 'x.db'}",
                           client_id="rw", journal=tmp_path / "j")
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "routewatch", "record", "-c", str(cfg), "--out", str(rec),
                                 "--append", "--duration", "8", "--client-id", "night-rec"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wait_online(broker.port, "night-rec")
        pub = client(broker.port, "pub", clean=True)
        for r in reports:
            pub.publish(r.topic, r.payload, qos=1).wait_for_publish(10)
        pub.publish("routewatch/v1/det/cam-a", b"{}", qos=1).wait_for_publish(10)  # not subscribed by this config
        pub.loop_stop()
        pub.disconnect()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - started >= 8
    assert f"recorded {len(reports)} message(s)" in out
    lines = rec.read_bytes().split(b"\n")
    assert lines[:2] == [GOOD[:-1], b'{"topic": "t", "received'] and lines[-1] == b""
    assert len(lines) == 2 + len(reports) + 1
    for line, r in zip(lines[2:-1], reports, strict=True):  # the payloads as published, byte for byte
        assert line.startswith(b'{"topic":"' + r.topic.encode() + b'","received_at":"')
        assert line.endswith(b'Z","payload":' + r.payload + b"}")


def test_progress_runs_over_the_recordings_bytes_to_the_end(tmp_path):
    from routewatch.app.analyze import analyze
    from routewatch.config.schema import Settings
    from routewatch.config.store import StoreConfig
    from routewatch.store import open_store

    reports = scenario(subjects=20, fixes=300)  # 6,000 messages: several chunks
    rec = tmp_path / "night.jsonl"
    write_recording(rec, reports, [b"junk"])
    other = tmp_path / "second.jsonl"
    write_recording(other, reports[:10], [])
    url = f"sqlite:///{tmp_path / 'p.db'}"
    seen: list[tuple[int, int]] = []
    with open_store(url) as store:
        summary = analyze([rec, other], Settings(store=StoreConfig(url=url)), store, (),
                          progress=lambda done, total: seen.append((done, total)))
    total = rec.stat().st_size + other.stat().st_size
    assert len(seen) > 3 and {t for _, t in seen} == {total}
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == total
    assert (summary.positions, summary.ingest["recording_lines"]) == (len(reports) + 10, len(reports) + 11)
