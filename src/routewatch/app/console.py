"""Terminal output: live alert lines and the analyze summary (rich)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from routewatch.app.summary import Summary
from routewatch.model import Alert, AlertChange, Change
from routewatch.wire import alert_to_dict

_STYLE = {"info": "dim", "low": "cyan", "medium": "yellow", "high": "bold red", "critical": "bold white on red"}
_CHANGE = {Change.OPENED: "OPEN ", Change.UPDATED: "UPD  ", Change.ACKNOWLEDGED: "ACK  ", Change.CLOSED: "CLOSE"}


def alert_dict(a: Alert) -> dict[str, Any]:
    """The JSON form of an alert (also the `alerts list --json` line), rounded for reading."""
    d = alert_to_dict(a)
    for key, digits in (("lat", 7), ("lon", 7), ("heading_deg", 1), ("speed_m_s", 2), ("progress_m", 1)):
        if d[key] is not None:
            d[key] = round(d[key], digits)
    return d


class AlertPrinter:
    """A change sink that prints one line per lifecycle change."""

    def __init__(self, console: Console, *, show_updates: bool = False) -> None:
        self.console = console
        self.show_updates = show_updates

    def __call__(self, changes: Sequence[AlertChange]) -> None:
        for ch in changes:
            if ch.change is Change.UPDATED and not self.show_updates:
                continue
            a = ch.alert
            when = (a.closed_at if ch.change is Change.CLOSED and a.closed_at else a.last_seen)
            style = _STYLE.get(a.severity.value, "")
            self.console.print(
                f"{when:%Y-%m-%d %H:%M:%S}Z {_CHANGE[ch.change]} [{style}]{a.severity.value:8}[/] "
                f"[bold]{a.kind.value:6}[/] {a.subject_id} ({a.subject_class}) in {a.corridor_id} "
                f"v{a.corridor_version} at {a.lat:.5f},{a.lon:.5f}  [dim]{a.detail}[/]",
                highlight=False,
            )


def print_summary(console: Console, summary: Summary, *, as_json: bool = False) -> None:
    """The end-of-job summary: messages, bad records, subjects, alerts by kind."""
    if as_json:
        console.print_json(json.dumps(summary.as_dict()))
        return
    t = Table(title="routewatch summary", show_header=False)
    ing = summary.ingest
    t.add_row("inputs", ", ".join(summary.inputs))
    # MAVLink's rows, unless only MQTT recordings were read
    if "recording_lines" not in ing or ing.get("messages") or ing.get("corrupt"):
        t.add_row("messages", f"{ing.get('messages', 0):,}")
        t.add_row("bad records", f"{ing.get('corrupt', 0):,} (bad CRC {ing.get('bad_crc', 0):,}, "
              f"bad header {ing.get('bad_frame', 0):,}, truncated {ing.get('truncated', 0):,}"
              + (f", junk {ing['junk']:,}" if ing.get("junk") else "")
              + f"; {ing.get('resync_bytes', 0):,} bytes skipped)"
              + (f"; unknown message ids {ing['unknown_id']:,}" if ing.get("unknown_id") else ""))
    if "recording_lines" in ing:
        t.add_row("MQTT recordings", f"{ing['recording_lines']:,} lines: {ing.get('recording_messages', 0):,} "
                  f"messages, {ing.get('recording_bad_lines', 0):,} bad lines (dead letters)"
                  + (f"; {ing['mqtt_frames_not_analyzed']:,} camera frames not analyzed"
                     if ing.get("mqtt_frames_not_analyzed") else ""))
    if "dead_letters" in ing:
        t.add_row("dead letters", f"{ing['dead_letters']:,} (routewatch dead-letters list)")
    for name, link in summary.links.items():
        t.add_row(f"link {name}", _link_row(link))
    if summary.publishers:
        t.add_row("MQTT seq gaps", f"{ing.get('mqtt_seq_gaps', 0):,} messages never received (" + ", ".join(
            f"{topic} {c['gaps']:,} of {c['received'] + c['gaps']:,}" for topic, c in summary.publishers.items()) + ")")
    if ing.get("dropped_behind"):
        t.add_row("dropped (behind)", f"{ing['dropped_behind']:,} events the pipeline could not take in time")
    if "sector_owned" in ing or "sector_outside" in ing:
        t.add_row("sector positions", f"{ing.get('sector_owned', 0):,} owned (of them "
                  f"{ing.get('sector_unsectored', 0):,} in no sector, ours as the default), "
                  f"{ing.get('sector_margin', 0):,} in the margin (state only), "
                  f"{ing.get('sector_outside', 0):,} outside (another worker's)"
                  + (f"; {ing['dead_letters_left_to_default']:,} dead letters stored by the default sector's worker"
                     if ing.get("dead_letters_left_to_default") else ""))
    t.add_row("not positions", f"no GPS fix {ing.get('no_fix', 0):,}, invalid {ing.get('invalid_position', 0):,}")
    if "camera_received" in ing:
        t.add_row("live camera frames", f"{ing['camera_received']:,} received, {ing.get('camera_skipped', 0):,} "
                  f"skipped (fps), {ing.get('camera_processed', 0):,} processed, {ing.get('camera_dropped', 0):,} "
                  f"dropped (behind), {ing.get('camera_corrupt', 0):,} corrupt; {ing.get('camera_reopens', 0):,} "
                  f"reopens, {ing.get('camera_stale', 0):,} stale"
                  + (f"; {ing['camera_no_pose']:,} without drone pose" if "camera_no_pose" in ing else ""))
    if any(k.startswith("snapshot") for k in ing):
        t.add_row("alert snapshots", f"{ing.get('snapshots', 0):,} stored ({ing.get('snapshots_late', 0):,} late), "
                  f"{ing.get('snapshot_missing', 0):,} missing, {ing.get('snapshot_errors', 0):,} failed, "
                  f"{ing.get('snapshot_dropped', 0):,} dropped")
    t.add_row("positions", f"{summary.positions:,} ({summary.first} .. {summary.last})")
    t.add_row("dropped fixes", ", ".join(f"{k} {v}" for k, v in summary.engine.items() if k != "accepted" and v
                                         and k != "events") or "none")
    t.add_row("subjects", ", ".join(f"{v} {k}" for k, v in sorted(summary.subjects.items())) or "none")
    t.add_row("alerts opened", ", ".join(f"{k} {v}" for k, v in sorted(summary.alerts_opened.items())) or "none")
    if summary.clock_offset_s:
        t.add_row("clock offset", ", ".join(f"{k} {v:+.2f} s" for k, v in summary.clock_offset_s.items()))
    console.print(t)


def _link_row(link: dict[str, Any]) -> str:
    """Packets received and lost per sender (sequence gaps), kernel drops and the receive buffer."""
    senders = [f"{sender}: {c['received']:,} received, {c['lost']:,} lost "
               f"({100 * c['lost'] / max(1, c['received'] + c['lost']):.1f} %)"
               for sender, c in link["senders"].items()]
    udp = [f"kernel drops {link['kernel_drops']:,} (receive buffer {link['recv_buffer_bytes'] // 1024:,} KiB)"]
    return "; ".join([*senders, *(udp if link["recv_buffer_bytes"] else [])]) or "nothing received"
