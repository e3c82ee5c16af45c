"""`routewatch dead-letters`: the inputs that were refused, with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import click

from routewatch.cli.common import open_store, out, store_options, store_url


@click.command(name="dead-letters")
@store_options
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def dead_letters_cmd(db: str | None, config: Path | None, limit: int, as_json: bool) -> None:
    """Inputs that were refused (bad JSON, schema violations, ...), newest first, with the reason."""
    from routewatch.wire import dead_letter_to_dict

    store = open_store(store_url(config, db))
    rows = store.dead_letters.recent(limit=limit)
    total = store.dead_letters.count()
    store.close()
    for d in rows:
        if as_json:
            click.echo(json.dumps(dead_letter_to_dict(d)))
        else:
            out.print(f"{d.received_at:%Y-%m-%d %H:%M:%S}Z {d.topic}: {d.reason}  [dim]{d.payload_excerpt[:80]!r}[/]",
                      highlight=False)
    if not as_json:
        out.print(f"{len(rows)} of {total} dead letter(s)")
