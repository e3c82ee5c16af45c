"""MAVLink ingest: tlog files and live links -> model events. The only place pymavlink is imported."""

from routewatch.ingest.mavlink.decode import MavlinkDecoder
from routewatch.ingest.mavlink.frame import MavlinkError, MavlinkStats
from routewatch.ingest.mavlink.link import MavlinkLink, parse_url
from routewatch.ingest.mavlink.tlog import TlogReader, iter_tlog, not_a_tlog
from routewatch.ingest.mavlink.writer import TlogWriter

__all__ = [
    "MavlinkDecoder",
    "MavlinkError",
    "MavlinkLink",
    "MavlinkStats",
    "TlogReader",
    "TlogWriter",
    "iter_tlog",
    "not_a_tlog",
    "parse_url",
]
