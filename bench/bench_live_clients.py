"""Live stream fan-out: N concurrent SSE clients, alert commit -> delivery latency p50/p99, server CPU.

Usage: python bench/bench_live_clients.py [--clients 200] [--alerts 40]

Starts `routewatch run` with the web API (SQLite) in a subprocess, connects the clients to /api/live,
commits alerts into the same database from here (one every 100 ms, timing each commit), and measures
when each client receives each alert. Baseline in the same run: the same with a single client.
Target: p99 under 500 ms with 200 clients. Prints one JSON line per client count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from routewatch.model import Alert, AlertChange, Change, EventKind, Severity
from routewatch.store import open_store
from routewatch.store.users import create_user

PASSWORD = "bench password 123"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client(base: str, cookies: httpx.Cookies, got: dict[str, float], ready: asyncio.Event,
                 stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=None) as c, \
            c.stream("GET", "/api/live") as r:
        ready.set()
        async for line in r.aiter_lines():
            if line.startswith("data:") and '"id"' in line:
                d = json.loads(line[5:])
                aid = d.get("id") or d.get("alert", {}).get("id")
                got.setdefault(aid, time.perf_counter())
            if stop.is_set():
                return


async def round_(base: str, cookies: httpx.Cookies, db: str, n_clients: int, n_alerts: int, tag: str,
                 pid: int) -> dict:
    stop = asyncio.Event()
    gots: list[dict[str, float]] = [{} for _ in range(n_clients)]
    readies = [asyncio.Event() for _ in range(n_clients)]
    tasks = [asyncio.create_task(client(base, cookies, g, r, stop)) for g, r in zip(gots, readies, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    await asyncio.sleep(1.0)
    store = open_store(db)
    committed: dict[str, float] = {}
    t0, c0 = time.perf_counter(), cpu_s(pid)
    base_t = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n_alerts):
        t = base_t + timedelta(seconds=i)
        a = Alert(f"{tag}-{i}", EventKind.CROSS, "line", 1, f"s{i}", "person", t, t, 10.0, 50.0, Severity.HIGH)
        await asyncio.to_thread(store.batches.write, [AlertChange(Change.OPENED, a)], [])
        committed[a.id] = time.perf_counter()
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(len(g) < n_alerts for g in gots):
        await asyncio.sleep(0.1)
    wall, cpu = time.perf_counter() - t0, cpu_s(pid) - c0
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    store.close()
    lat = sorted((g[aid] - committed[aid]) * 1000 for g in gots for aid in committed if aid in g)
    expected = n_clients * n_alerts
    return {"clients": n_clients, "alerts": n_alerts, "deliveries": len(lat), "expected": expected,
            "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
            "server_cpu_percent": round(100 * cpu / wall, 1)}


async def main_async(a: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="rw-live-"))
    db = f"sqlite:///{work / 'rw.db'}"
    store = open_store(db)
    create_user(store.users, "bench", PASSWORD, "field", at=datetime.now(UTC))
    store.close()
    port = free_port()
    cfg = {"sources": [{"name": "idle", "url": f"udpin:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"}],
           "store": {"url": db, "journal_dir": str(work / "journal")},
           "web": {"enabled": True, "port": port, "secret_key": "bench-secret-key"}}
    (work / "rw.yaml").write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "-c", str(work / "rw.yaml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=base) as c:
            r = await c.post("/api/login", json={"username": "bench", "password": PASSWORD})
            r.raise_for_status()
            cookies = c.cookies
        one = await round_(base, cookies, db, 1, a.alerts, "one", proc.pid)
        many = await round_(base, cookies, db, a.clients, a.alerts, "many", proc.pid)
        print(json.dumps({"bench": "live_stream_fanout", **many, "baseline_1_client_p99_ms": one["p99_ms"],
                          "ratio_p99_vs_1_client": round(many["p99_ms"] / one["p99_ms"], 2)
                          if many["p99_ms"] and one["p99_ms"] else None, "target_p99_ms": 500}), flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--alerts", type=int, default=40)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
