"""Analyzing an MQTT recording (.jsonl) end to end vs feeding the same observations to the same job directly.

Usage: python bench/bench_mqtt_replay.py [--subjects 200] [--fixes 500] [--repeat 3]

Writes a recording of pos.v1 reports (subjects walking across a line, 1 Hz) with the recorder's line
encoder, then times `routewatch.app.analyze.analyze` on it (read, order by received_at, the live MQTT
parsing and checks, pipeline, SQLite). Baseline in the same run: the observations those reports
become, fed to a job built the same way (pipeline and SQLite, no file, no parsing). Prints one JSON
line; ratio = baseline time / recording time (1.0: reading and checking the messages costs nothing).
`live_parse_s` is the share of the live MQTT parsing alone (parse_message, JSON Schema checks and all),
which a live run pays as well: the rest of the difference is the file (reading, ordering).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shapely.geometry import LineString

from routewatch.app.analyze import analyze
from routewatch.app.runtime import Mode, build
from routewatch.config.schema import Settings
from routewatch.config.store import StoreConfig
from routewatch.geo.crs import LocalFrame
from routewatch.ingest.mqtt.payloads import parse_message
from routewatch.ingest.mqtt.recordfile import encode
from routewatch.model import Corridor, CorridorKind, InboundMessage, Observation
from routewatch.store import open_store

FRAME = LocalFrame(10.0, 50.0)
LINE = Corridor("line", FRAME.to_lonlat(LineString([(0, -1e5), (0, 1e5)])), kind=CorridorKind.LINE)


def scenario(subjects: int, fixes: int) -> tuple[list[InboundMessage], list[Observation]]:
    """Reports as received (a recording's messages) and the observations they must become."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    msgs, obs = [], []
    for i in range(fixes):
        t = t0 + timedelta(seconds=i)
        for k in range(subjects):
            lon, lat = (round(v, 8) for v in FRAME.lonlat(-1.5 * fixes + 3.0 * i, 20.0 * k))
            body = {"subject_id": f"s{k}", "class": "person", "time": t.isoformat().replace("+00:00", "Z"),
                    "lon": lon, "lat": lat}
            msgs.append(InboundMessage("routewatch/v1/pos/trk", json.dumps(body).encode(), t + timedelta(seconds=0.3)))
            obs.append(Observation(f"trk/s{k}", t, lon, lat, subject_class="person", source="trk"))
    return msgs, obs


def job(url: str) -> tuple[Settings, object, tuple[Corridor, ...]]:
    settings = Settings(store=StoreConfig(url=url))
    store = open_store(url)
    saved = store.corridors.save([LINE], author="bench", comment="", at=datetime.now(UTC))
    return settings, store, saved


def replay(path: Path, url: str) -> tuple[float, dict]:
    settings, store, saved = job(url)
    t = time.perf_counter()
    summary = analyze([path], settings, store, saved)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t
    store.close()  # type: ignore[attr-defined]
    return elapsed, {"positions": summary.positions, "alerts": sum(summary.alerts_opened.values()),
                     "dead_letters": summary.ingest["dead_letters"]}


def direct(obs: list[Observation], url: str) -> tuple[float, dict]:
    settings, store, saved = job(url)
    t = time.perf_counter()
    rt = build(settings, store, saved, Mode.LOGS, inputs=["direct"])  # type: ignore[arg-type]
    for i in range(0, len(obs), 2000):
        rt.feed(obs[i:i + 2000])
    rt.finish()
    elapsed = time.perf_counter() - t
    store.close()  # type: ignore[attr-defined]
    return elapsed, {"positions": rt.summary.positions, "alerts": sum(rt.summary.alerts_opened.values())}


def live_parse(msgs: list[InboundMessage]) -> float:
    cfg = Settings().mqtt.input
    t = time.perf_counter()
    for m in msgs:
        parse_message(m, cfg, now=m.received_at)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--fixes", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    msgs, obs = scenario(a.subjects, a.fixes)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rec = work / "night.jsonl"
        rec.write_bytes(b"".join(encode(m) for m in msgs))
        parse = min(live_parse(msgs) for _ in range(a.repeat))
        base = [direct(obs, f"sqlite:///{work / f'd{i}.db'}") for i in range(a.repeat)]
        ours = [replay(rec, f"sqlite:///{work / f'r{i}.db'}") for i in range(a.repeat)]
        size = rec.stat().st_size
    b, o = min(r[0] for r in base), min(r[0] for r in ours)
    if ours[0][1]["positions"] != base[0][1]["positions"] or ours[0][1]["alerts"] != base[0][1]["alerts"]:
        raise SystemExit(f"the recording gave {ours[0][1]}, the observations {base[0][1]}")
    print(json.dumps({
        "bench": "mqtt_recording_analyze", "messages": len(msgs), "recording_bytes": size, **ours[0][1],
        "direct_s": round(b, 3), "recording_s": round(o, 3), "live_parse_s": round(parse, 3),
        "file_s": round(o - b - parse, 3), "direct_obs_per_s": round(len(obs) / b),
        "recording_msgs_per_s": round(len(msgs) / o), "ratio": round(b / o, 2),
    }))


if __name__ == "__main__":
    main()
