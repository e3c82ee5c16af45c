"""`routewatch corridors`: corridor files and the stored, versioned set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from routewatch.cli.common import fail, now, open_store, out, store_options, store_url


@click.group()
def corridors() -> None:
    """Corridor geofence files and the stored, versioned set."""


def _load(path: Path) -> Any:
    from routewatch.geo.corridors import CorridorError, load_corridors

    try:
        return load_corridors(path)
    except CorridorError as exc:
        fail(str(exc))


@corridors.command(name="validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def corridors_validate(file: Path) -> None:
    """Check a GeoJSON/KML corridor file; exit status 2 with the problems if it is bad (or has no corridors)."""
    from routewatch.geo.corridors import CorridorError, require_some

    cs = _load(file)
    try:
        require_some(cs, str(file))
    except CorridorError as exc:
        fail(str(exc))
    out.print(f"{file}: {len(cs)} corridor(s) OK: " + ", ".join(f"{c.id} ({c.kind.value})" for c in cs))


@corridors.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_options
@click.option("--author", default="cli", show_default=True)
@click.option("--comment", default="", help="Why the change was made.")
@click.option("--merge/--replace", default=False,
              help="--merge: keep stored corridors the file does not name; --replace (the default): remove them, "
              "which needs --expect-removed.")
@click.option("--expect-removed", type=click.IntRange(0), default=0, show_default=True,
              help="With --replace: how many stored corridors the import removes; any other number refuses it.")
def corridors_import(file: Path, db: str | None, config: Path | None, author: str, comment: str, merge: bool,
                     expect_removed: int) -> None:
    """Store a corridor file as the set in force; changed corridors get a new version.

    An empty file is refused. Stored corridors the file does not name are removed (a tombstone
    version each) only when --expect-removed gives their number; else they are listed and nothing is saved.
    """
    from routewatch.geo.corridors import CorridorError, require_some
    from routewatch.store import RemovalNotConfirmedError

    cs = _load(file)
    try:
        require_some(cs, str(file))
    except CorridorError as exc:
        fail(str(exc))
    store = open_store(store_url(config, db))
    try:
        saved = store.corridors.save(cs, author=author, comment=comment or f"import {file.name}", at=now(),
                                     replace=not merge, expect_removed=None if merge else expect_removed)
    except RemovalNotConfirmedError as exc:
        fail(f"{file}: {exc}: give --expect-removed {len(exc.ids)} to remove them, or --merge to keep them")
    finally:
        store.close()
    for c in saved:
        out.print(f"{c.id} v{c.version} ({c.kind.value})", highlight=False)
    if not merge and expect_removed:
        out.print(f"{expect_removed} stored corridor(s) removed", highlight=False)


@corridors.command(name="export")
@store_options
@click.option("--format", "fmt", type=click.Choice(["geojson", "kml"]), default="geojson", show_default=True)
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout).")
def corridors_export(db: str | None, config: Path | None, fmt: str, out_file: Path | None) -> None:
    """Write the stored set in force as GeoJSON or KML."""
    from routewatch.geo.corridors import dumps_geojson, to_kml

    store = open_store(store_url(config, db))
    cs = store.corridors.current()
    store.close()
    text = dumps_geojson(cs) if fmt == "geojson" else to_kml(cs)
    if out_file is None:
        click.echo(text)
    else:
        out_file.write_text(text, encoding="utf-8")


@corridors.command(name="list")
@store_options
def corridors_list(db: str | None, config: Path | None) -> None:
    """List the stored corridors in force."""
    store = open_store(store_url(config, db))
    cs = store.corridors.current()
    store.close()
    for c in cs:
        extra = f" width {c.width_m:g} m" if c.width_m else ""
        extra += f" direction {c.direction.value}" if c.direction else ""
        out.print(f"{c.id} v{c.version} {c.kind.value}{extra} {c.name}", highlight=False)
    out.print(f"{len(cs)} corridor(s)")


@corridors.command(name="from-fence")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "cid", required=True, help="Id of the new corridor.")
@click.option("--kind", type=click.Choice(["operating_area", "exclusion"]), default="operating_area",
              show_default=True)
@click.option("--name", default="", help="Human name.")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout).")
def corridors_from_fence(file: Path, cid: str, kind: str, name: str, out_file: Path | None) -> None:
    """Convert an ArduPilot/MAVProxy fence file (lat lon per line) to a corridor GeoJSON file."""
    from routewatch.geo.corridors import CorridorError, dumps_geojson
    from routewatch.geo.fencefile import parse_fence_file
    from routewatch.model import CorridorKind

    try:
        c = parse_fence_file(file.read_text(encoding="utf-8", errors="replace"), id=cid, kind=CorridorKind(kind),
                             name=name)
    except CorridorError as exc:
        fail(str(exc))
    text = dumps_geojson([c])
    if out_file is None:
        click.echo(text)
    else:
        out_file.write_text(text, encoding="utf-8")
