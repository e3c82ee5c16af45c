"""MAVLink tlog parse speed: pymavlink's bare parse loop vs routewatch's iter_tlog, same file, same run.

Prints one JSON line. Uses the real flight log from ../shared/data when present, else a generated
log with the same message mix.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as d

from routewatch.ingest.mavlink import MavlinkStats, TlogWriter, iter_tlog

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mavlink"
FLIGHT = DATA / "dronekit_flight_replay_flight.tlog"


def generate(path: Path, seconds: int = 1400) -> Path:
    """A copter log with the real flight's mix: ~6 used and ~20 unused message types a second, 2 Hz each."""
    w = TlogWriter()
    t0 = datetime(2015, 7, 5, 0, 26, 43, tzinfo=UTC)
    unused = [
        d.MAVLink_vfr_hud_message(1.0, 1.0, 90, 50, 10.0, 0.1),
        d.MAVLink_sys_status_message(1, 1, 1, 500, 12000, 100, 80, 0, 0, 0, 0, 0, 0),
        d.MAVLink_raw_imu_message(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
        d.MAVLink_scaled_pressure_message(0, 1013.0, 0.1, 2500),
        d.MAVLink_rc_channels_raw_message(0, 0, *([1500] * 8), 255),
        d.MAVLink_servo_output_raw_message(0, 0, *([1500] * 8)),
        d.MAVLink_nav_controller_output_message(0.0, 0.0, 90, 90, 10, 0.0, 0.0, 0.0),
        d.MAVLink_mission_current_message(1),
        d.MAVLink_power_status_message(5000, 5000, 0),
        d.MAVLink_meminfo_message(1000, 2000),
    ]
    for i in range(seconds * 2):
        t = t0 + timedelta(milliseconds=500 * i)
        lat, lon = -35.3621 + (i % 100) * 1e-6, 149.1656 + (i % 70) * 1e-6
        w.heartbeat(t, 1, custom_mode=5)
        w.heartbeat(t, 255, d.MAV_TYPE_GCS, autopilot=d.MAV_AUTOPILOT_INVALID, compid=190)
        w.gps_raw_int(t, 1, 3, lat, lon, 600.0)
        w.global_position_int(t, 1, lat, lon, 600.0, 10.0, 1.0, 0.5, 0.0, 45.0)
        w.attitude(t, 1, 1.0, 2.0, 45.0)
        w.system_time(t, 1, t + timedelta(seconds=1.4))
        w.fence_status(t, 1, False)
        w.radio_status(t)
        for m in unused:
            w.message(t, 1, m)
            w.message(t, 1, m)
    return w.write(path)


def pymavlink_loop(path: Path) -> int:
    """pymavlink's bare parse loop, as a user would write it."""
    conn = mavutil.mavlink_connection(str(path))
    n = 0
    while conn.recv_match() is not None:
        n += 1
    conn.close()
    return n


def routewatch_loop(path: Path) -> int:
    stats = MavlinkStats()
    for _ in iter_tlog(path, "bench", stats):
        pass
    return stats.messages


def timed(fn: object, path: Path, repeat: int) -> tuple[int, float]:
    """Messages and the median seconds of `repeat` runs."""
    runs = []
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn(path)  # type: ignore[operator]
        runs.append(time.perf_counter() - t0)
    return n, statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--file", type=Path, default=None, help="a .tlog to use instead of the default")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or (FLIGHT if FLIGHT.exists() else generate(Path(tmp) / "generated.tlog"))
        n_ref, s_ref = timed(pymavlink_loop, path, args.repeat)
        n_rw, s_rw = timed(routewatch_loop, path, args.repeat)
        print(json.dumps({
            "bench": "mavlink_parse",
            "file": path.name,
            "messages": n_rw,
            "pymavlink_messages": n_ref,
            "pymavlink_msgs_per_s": round(n_ref / s_ref),
            "routewatch_msgs_per_s": round(n_rw / s_rw),
            "ratio": round((n_rw / s_rw) / (n_ref / s_ref), 2),
            "python": sys.version.split()[0],
        }))


if __name__ == "__main__":
    main()
