"""`routewatch klv`: MISB ST 0601 KLV metadata."""

from __future__ import annotations

import json
from pathlib import Path

import click

from routewatch.cli.common import out


@click.group()
def klv() -> None:
    """MISB ST 0601 KLV metadata (drone full-motion video)."""


@klv.command(name="dump")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per packet.")
def klv_dump(file: Path, as_json: bool) -> None:
    """Decode every UAS Local Set packet: values the standard marks out of range are null; bad checksums flagged."""
    from routewatch.ingest.klv import packet_to_dict, scan

    result = scan(file.read_bytes())
    bad = 0
    for p in result.packets:
        d = packet_to_dict(p)
        bad += d["checksum"] != "ok"
        if as_json:
            click.echo(json.dumps(d, default=str))
        else:
            fields = ", ".join(f"{k}={v}" for k, v in d.items() if v is not None and k != "checksum")
            flag = "" if d["checksum"] == "ok" else " [bold red]BAD CHECKSUM[/]"
            out.print(f"@{p.offset}{flag} {fields}", highlight=False)
    if not as_json:
        out.print(f"{len(result.packets)} packet(s), {bad} with a bad checksum, {result.skipped_bytes} byte(s) skipped")
