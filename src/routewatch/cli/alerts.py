"""`routewatch alerts`: list and acknowledge stored alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from routewatch.cli.common import fail, now, open_store, out, resolve_alert_id, store_options, store_url
from routewatch.model import ALERT_KINDS, AlertState, EventKind


@click.group()
def alerts() -> None:
    """Stored alerts."""


@alerts.command(name="list")
@store_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--kind", type=click.Choice([k.value for k in ALERT_KINDS]))
@click.option("--state", type=click.Choice([s.value for s in AlertState]))
@click.option("--corridor", "corridor_id")
@click.option("--subject", "subject_id")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]))
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--within", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Only alerts inside the polygons of this GeoJSON file (PostGIS index when available).")
def alerts_list(db: str | None, config: Path | None, as_json: bool, kind: str | None, state: str | None,
                corridor_id: str | None, subject_id: str | None, since: datetime | None, until: datetime | None,
                limit: int, within: Path | None) -> None:
    """List alerts, oldest first (times are UTC)."""
    from routewatch.app.console import alert_dict
    from routewatch.geo.area import load_area

    area = None
    if within is not None:
        try:
            area = load_area(within)
        except ValueError as exc:
            fail(f"--within: {exc}")
    store = open_store(store_url(config, db))
    rows = store.alerts.find(within=area,
        kind=EventKind(kind) if kind else None, state=AlertState(state) if state else None,
        corridor_id=corridor_id, subject_id=subject_id,
        since=since.replace(tzinfo=UTC) if since else None, until=until.replace(tzinfo=UTC) if until else None,
        limit=limit,
    )
    store.close()
    if as_json:
        for a in rows:
            click.echo(json.dumps(alert_dict(a)))
        return
    from rich.table import Table

    t = Table("opened (UTC)", "closed", "kind", "severity", "state", "subject", "corridor", "lat,lon", "id")
    for a in rows:
        t.add_row(f"{a.opened_at:%Y-%m-%d %H:%M:%S}", f"{a.closed_at:%H:%M:%S}" if a.closed_at else "",
                  a.kind.value, a.severity.value, a.state.value, f"{a.subject_id} ({a.subject_class})",
                  f"{a.corridor_id} v{a.corridor_version}", f"{a.lat:.5f},{a.lon:.5f}", a.id[:8])
    out.print(t)
    out.print(f"{len(rows)} alert(s)")


@alerts.command(name="ack")
@click.argument("alert_id")
@store_options
@click.option("--by", default="cli", show_default=True, help="Who acknowledges.")
@click.option("--comment", default="", help="Why.")
def alerts_ack(alert_id: str, db: str | None, config: Path | None, by: str, comment: str) -> None:
    """Acknowledge an alert: its id, or a unique prefix of it (at least 4 characters, as `alerts list` shows)."""
    store = open_store(store_url(config, db))
    try:
        a = store.alerts.acknowledge(resolve_alert_id(store, alert_id), by=by, comment=comment, time=now())
    finally:
        store.close()
    out.print(f"acknowledged {a.id} ({a.kind.value} {a.subject_id} in {a.corridor_id})")
