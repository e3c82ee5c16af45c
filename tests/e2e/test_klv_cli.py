"""`routewatch klv dump` on the real KLV streams."""

from __future__ import annotations

import json

from click.testing import CliRunner

from routewatch.cli.main import main


def test_klv_dump_json_and_text(shared_data):
    res = CliRunner().invoke(main, ["klv", "dump", str(shared_data / "klv" / "klvdata_Cheyenne_st0601.bin"), "--json"])
    assert res.exit_code == 0
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 407 and {r["checksum"] for r in rows} == {"ok"}
    assert all(41.12 < r["sensor_lat"] < 41.15 for r in rows)
    conformance = shared_data / "klv" / "klvdata_DynamicConstantMISMMSPacketData.bin"
    res = CliRunner().invoke(main, ["klv", "dump", str(conformance)])
    assert res.exit_code == 0 and "BAD CHECKSUM" in res.stdout and "1 with a bad checksum" in res.stdout


def test_klv_dump_of_garbage_counts_skipped_bytes(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x01\x02" * 500)
    res = CliRunner().invoke(main, ["klv", "dump", str(junk)])
    assert res.exit_code == 0 and "0 packet(s)" in res.stdout and "1000 byte(s) skipped" in res.stdout
