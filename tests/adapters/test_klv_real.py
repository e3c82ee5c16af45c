"""Real MISB ST 0601 streams from ../shared/data/klv (see its PROVENANCE.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from routewatch.ingest.klv import KlvPacket, iter_packets, packet_to_dict, scan
from tests.kits.require import needs_files

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "klv"
CHEYENNE = DATA / "klvdata_Cheyenne_st0601.bin"
CONFORMANCE = DATA / "klvdata_DynamicConstantMISMMSPacketData.bin"
needs_data = needs_files(CHEYENNE, CONFORMANCE)


@pytest.fixture(scope="module")
def cheyenne() -> list[KlvPacket]:
    return list(iter_packets(CHEYENNE.read_bytes()))


@needs_data
def test_cheyenne_all_packets_found_and_valid(cheyenne: list[KlvPacket]) -> None:
    s = scan(CHEYENNE.read_bytes())
    assert len(cheyenne) == len(s.packets) == 407
    assert (s.skipped_bytes, s.malformed_packets) == (0, 0)
    assert all(p.checksum_ok for p in cheyenne)


@needs_data
def test_cheyenne_values_in_documented_ranges(cheyenne: list[KlvPacket]) -> None:
    poses = [p.pose() for p in cheyenne]
    times = [q.time for q in poses]
    assert times == sorted(t for t in times if t is not None)
    assert times[0] is not None and times[-1] is not None
    assert abs(times[0] - datetime(2012, 9, 19, 20, 40, 44, tzinfo=UTC)) < timedelta(seconds=0.5)
    assert abs(times[-1] - datetime(2012, 9, 19, 20, 42, 9, tzinfo=UTC)) < timedelta(seconds=0.5)
    lats = [q.sensor_lat for q in poses if q.sensor_lat is not None]
    lons = [q.sensor_lon for q in poses if q.sensor_lon is not None]
    assert len(lats) == len(lons) == 407
    assert (round(min(lats), 4), round(max(lats), 4)) == (41.1215, 41.1438)
    assert (round(min(lons), 4), round(max(lons), 4)) == (-104.8077, -104.7717)
    # The camera zooms during the clip: 18.7 x 10.5 degrees at the start, 0.57 degrees at its narrowest.
    assert poses[0].hfov_deg == pytest.approx(18.7, abs=0.1)
    assert poses[0].vfov_deg == pytest.approx(10.5, abs=0.1)
    hfovs = [q.hfov_deg for q in poses if q.hfov_deg is not None]
    assert len(hfovs) == 407 and 0.5 < min(hfovs) < max(hfovs) < 41.0
    assert sum(abs(h - 18.7) < 0.1 for h in hfovs) > 100
    assert {q.mission_id for q in poses} == {"ESRI_Metadata_Collect"}
    assert {q.platform_designation for q in poses} == {"C208B"}
    assert all(q.camera_pose() is not None for q in poses)


@needs_data
def test_cheyenne_dump_is_json(cheyenne: list[KlvPacket]) -> None:
    d = packet_to_dict(cheyenne[0])
    assert d["checksum"] == "ok"
    assert d["mission_id"] == "ESRI_Metadata_Collect"
    json.dumps([packet_to_dict(p) for p in cheyenne])


@needs_data
def test_conformance_packet_decodes_but_checksum_is_bad() -> None:
    s = scan(CONFORMANCE.read_bytes())
    assert (s.skipped_bytes, s.malformed_packets) == (0, 0)
    [p] = s.packets
    assert not p.checksum_ok
    assert (p.checksum_stored, p.checksum_computed) == (0xAA43, 0x3E1E)
    pose = p.pose()
    assert pose.sensor_lat == pytest.approx(60.176823, abs=1e-6)
    assert pose.sensor_lon == pytest.approx(128.426759, abs=1e-6)
    assert (pose.mission_id, pose.platform_designation, pose.version) == ("Mission 12", "Predator", 6)
    assert pose.time == datetime(2009, 1, 12, 22, 8, 22, tzinfo=UTC)
    assert packet_to_dict(p)["checksum"] == "bad"
